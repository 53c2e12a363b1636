//! The RBAC rules the adapter needs, exactly: every API call in this crate is one of
//! these verbs on one of these resources, and `deploy/kubernetes/opsbot-rbac.yaml` grants
//! these and nothing else (a test compares the two).

/// One rule of the opsbot Role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    /// `""` for the core group.
    pub api_group: &'static str,
    /// `deployments`, `deployments/scale`, `pods/log`, …
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
}

/// What opsbot does with each resource, and why.
pub const REQUIRED_PERMISSIONS: &[Permission] = &[
    // Read the deployment (status, revision, selector); restart and rollback patch it;
    // restart, rollback and scale watch it to follow the rollout.
    Permission {
        api_group: "apps",
        resource: "deployments",
        verbs: &["get", "patch", "watch"],
    },
    // `scale` patches the scale subresource.
    Permission {
        api_group: "apps",
        resource: "deployments/scale",
        verbs: &["patch"],
    },
    // Revisions live on the deployment's ReplicaSets (history, rollback).
    Permission {
        api_group: "apps",
        resource: "replicasets",
        verbs: &["list"],
    },
    // Pods of the deployment (logs, restarts, CrashLoopBackOff).
    Permission {
        api_group: "",
        resource: "pods",
        verbs: &["list"],
    },
    Permission {
        api_group: "",
        resource: "pods/log",
        verbs: &["get"],
    },
    // Warning events for `health`.
    Permission {
        api_group: "",
        resource: "events",
        verbs: &["list"],
    },
];
