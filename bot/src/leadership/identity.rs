//! Who this replica is, as a Lease holder, and where its Leases live: from the pod's
//! environment (`POD_NAME`, `POD_NAMESPACE`, set by the Deployment through the downward
//! API) or the host, unless `[leadership]` names them.

/// Where the service account's namespace is mounted in a pod.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// This process's holder name: `POD_NAME`, else `HOSTNAME`, else the kernel's host name,
/// else `opsbot`; with the process id, so two processes on one host differ.
pub fn default_identity(env: &dyn Fn(&str) -> Option<String>) -> String {
    let host = env("POD_NAME")
        .or_else(|| env("HOSTNAME"))
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_string())
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| "opsbot".to_string());
    format!("{host}-{}", std::process::id())
}

/// The namespace for Leases: the configured one, else `POD_NAMESPACE`, else the
/// in-cluster service account's namespace, else `default`.
pub fn lease_namespace(configured: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    configured
        .map(str::to_string)
        .or_else(|| env("POD_NAMESPACE"))
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE)
                .ok()
                .map(|ns| ns.trim().to_string())
                .filter(|ns| !ns.is_empty())
        })
        .unwrap_or_else(|| "default".to_string())
}
