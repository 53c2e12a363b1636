//! A fake systemd manager served with zbus on a private bus, written from systemd's D-Bus
//! API: `org.freedesktop.systemd1.Manager` at `/org/freedesktop/systemd1` with `Subscribe`,
//! `RestartUnit` (returns a job path and emits `JobRemoved(id, job, unit, result)` after a
//! short delay), `GetUnit`, `LoadUnit`; unit objects with `LoadState`, `ActiveState`,
//! `SubState` (`org.freedesktop.systemd1.Unit`) and `Result`
//! (`org.freedesktop.systemd1.Service`). Unknown units answer
//! `org.freedesktop.systemd1.NoSuchUnit`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use zbus::{
    Connection, ObjectPath, OwnedObjectPath, connection, interface, object_server::SignalEmitter,
};

/// What a unit does when restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// The job ends `done`; the unit is `active (running)`.
    Starts,
    /// The job ends `failed`; the unit is `failed (failed)` with Result `exit-code`.
    FailsToStart,
    /// The job never ends (no `JobRemoved`); the unit stays `activating (start)`.
    Hangs,
}

#[derive(Clone, Debug)]
struct UnitRecord {
    behaviour: Behaviour,
    load: String,
    active: String,
    sub: String,
    result: String,
    restarts: u32,
}

type Units = Arc<Mutex<HashMap<String, UnitRecord>>>;

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.freedesktop.systemd1")]
enum SystemdError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NoSuchUnit(String),
}

/// The running fake; it leaves the bus when dropped.
pub struct FakeSystemd {
    units: Units,
    pub subscribers: Arc<Mutex<u32>>,
    _connection: Connection,
}

impl FakeSystemd {
    /// Serves the manager on the bus at `address`, holding `org.freedesktop.systemd1`.
    pub async fn start(address: &str, job_delay: Duration) -> Self {
        let units: Units = Arc::default();
        let subscribers = Arc::new(Mutex::new(0));
        let manager = Manager {
            units: units.clone(),
            subscribers: subscribers.clone(),
            next_job: Arc::new(Mutex::new(100)),
            job_delay,
        };
        let connection = connection::Builder::address(address)
            .name("org.freedesktop.systemd1")
            .serve_at("/org/freedesktop/systemd1", manager)
            .build()
            .await
            .unwrap();
        Self {
            units,
            subscribers,
            _connection: connection,
        }
    }

    /// The unit's `(ActiveState, SubState, Result)`.
    pub fn state(&self, name: &str) -> (String, String, String) {
        let units = self.units.lock().unwrap();
        let unit = &units[name];
        (unit.active.clone(), unit.sub.clone(), unit.result.clone())
    }

    /// Leaves the bus (as dropping does).
    pub fn shutdown(self) {
        drop(self);
    }

    /// Adds a loaded unit, `active (running)`, with its objects.
    pub async fn add_unit(&self, name: &str, behaviour: Behaviour) {
        self.units.lock().unwrap().insert(
            name.to_string(),
            UnitRecord {
                behaviour,
                load: "loaded".into(),
                active: "active".into(),
                sub: "running".into(),
                result: "success".into(),
                restarts: 0,
            },
        );
        let server = self._connection.object_server();
        let path = unit_path(name);
        let unit = UnitObject {
            name: name.to_string(),
            units: self.units.clone(),
        };
        server.at(path.clone(), unit).await.unwrap();
        let service = ServiceObject {
            name: name.to_string(),
            units: self.units.clone(),
        };
        server.at(path, service).await.unwrap();
    }

    /// Sets a unit's `ActiveState`, `SubState` and `Result`.
    pub fn set_state(&self, name: &str, active: &str, sub: &str, result: &str) {
        let mut units = self.units.lock().unwrap();
        let unit = units.get_mut(name).unwrap();
        unit.active = active.into();
        unit.sub = sub.into();
        unit.result = result.into();
    }

    /// How many times `RestartUnit` was called for the unit.
    pub fn restarts(&self, name: &str) -> u32 {
        self.units.lock().unwrap()[name].restarts
    }
}

/// systemd's object path of a unit: `ollama.service` → `.../unit/ollama_2eservice`.
pub fn unit_path(name: &str) -> OwnedObjectPath {
    let mut escaped = String::new();
    for (i, byte) in name.bytes().enumerate() {
        if byte.is_ascii_alphanumeric() && !(i == 0 && byte.is_ascii_digit()) {
            escaped.push(byte as char);
        } else {
            escaped.push_str(&format!("_{byte:02x}"));
        }
    }
    OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/unit/{escaped}")).unwrap()
}

struct Manager {
    units: Units,
    subscribers: Arc<Mutex<u32>>,
    next_job: Arc<Mutex<u32>>,
    job_delay: Duration,
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    fn subscribe(&self) {
        *self.subscribers.lock().unwrap() += 1;
    }

    fn restart_unit(
        &self,
        name: String,
        mode: String,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<OwnedObjectPath, SystemdError> {
        assert_eq!(mode, "replace");
        let behaviour = {
            let mut units = self.units.lock().unwrap();
            let Some(unit) = units.get_mut(&name) else {
                return Err(SystemdError::NoSuchUnit(format!("Unit {name} not found.")));
            };
            unit.restarts += 1;
            unit.active = "activating".into();
            unit.sub = "start".into();
            unit.behaviour
        };
        let id = {
            let mut next = self.next_job.lock().unwrap();
            *next += 1;
            *next
        };
        let job = OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{id}")).unwrap();
        if behaviour == Behaviour::Hangs {
            return Ok(job);
        }
        let emitter = emitter.to_owned();
        let units = self.units.clone();
        let delay = self.job_delay;
        let reply = job.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = {
                let mut units = units.lock().unwrap();
                let unit = units.get_mut(&name).unwrap();
                match behaviour {
                    Behaviour::Starts => {
                        (unit.active, unit.sub, unit.result) =
                            ("active".into(), "running".into(), "success".into());
                        "done"
                    }
                    _ => {
                        (unit.active, unit.sub, unit.result) =
                            ("failed".into(), "failed".into(), "exit-code".into());
                        "failed"
                    }
                }
            };
            // A JobRemoved of another job first: the client must match its own job.
            Manager::job_removed(&emitter, 1, job_path(1).as_ref(), "other.service", "done")
                .await
                .unwrap();
            Manager::job_removed(&emitter, id, job.as_ref(), &name, result)
                .await
                .unwrap();
        });
        Ok(reply)
    }

    fn get_unit(&self, name: String) -> Result<OwnedObjectPath, SystemdError> {
        if self.units.lock().unwrap().contains_key(&name) {
            Ok(unit_path(&name))
        } else {
            Err(SystemdError::NoSuchUnit(format!("Unit {name} not loaded.")))
        }
    }

    fn load_unit(&self, name: String) -> Result<OwnedObjectPath, SystemdError> {
        // Real systemd loads a stub with LoadState not-found; answering NoSuchUnit keeps the
        // fake small and is handled the same way by the client.
        self.get_unit(name)
    }

    #[zbus(signal)]
    async fn job_removed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

fn job_path(id: u32) -> OwnedObjectPath {
    OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/job/{id}")).unwrap()
}

struct UnitObject {
    name: String,
    units: Units,
}

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl UnitObject {
    #[zbus(property)]
    fn load_state(&self) -> String {
        self.units.lock().unwrap()[&self.name].load.clone()
    }

    #[zbus(property)]
    fn active_state(&self) -> String {
        self.units.lock().unwrap()[&self.name].active.clone()
    }

    #[zbus(property)]
    fn sub_state(&self) -> String {
        self.units.lock().unwrap()[&self.name].sub.clone()
    }
}

struct ServiceObject {
    name: String,
    units: Units,
}

#[interface(name = "org.freedesktop.systemd1.Service")]
impl ServiceObject {
    #[zbus(property)]
    fn result(&self) -> String {
        self.units.lock().unwrap()[&self.name].result.clone()
    }
}
