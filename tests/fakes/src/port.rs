//! A free TCP port on 127.0.0.1 for a process under test to listen on (`opsbot serve
//! --listen`, Alertmanager), where the listener cannot be handed over already bound.
//! Another process may take the port between this call and the bind; tests that start
//! the process retry or fail loudly on "address in use".

/// Asks the kernel for a free port on 127.0.0.1 and releases it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}
