//! What a process's `/readyz` reports: each role's connection to the
//! broker, set by the role as its session comes and goes. The database is
//! checked by the probe itself (a `SELECT 1`, cached).

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

/// The readiness flags of one process; cheap to clone (clones share them).
#[derive(Clone, Default, Debug)]
pub struct Health {
    flags: Arc<Mutex<BTreeMap<&'static str, Arc<AtomicBool>>>>,
}

/// One component's flag, kept by the role that owns the component.
#[derive(Clone, Debug)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }
}

impl Health {
    /// Registers `name` (down until set) and returns its flag.
    pub fn flag(&self, name: &'static str) -> Flag {
        let mut flags = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        Flag(flags.entry(name).or_default().clone())
    }

    /// Every registered component and whether it is up.
    pub fn components(&self) -> Vec<(&'static str, bool)> {
        let flags = self.flags.lock().unwrap_or_else(|e| e.into_inner());
        flags.iter().map(|(k, v)| (*k, v.load(Ordering::Relaxed))).collect()
    }
}

/// Exported as `dirsync_broker_connected{role}`: each `broker:<role>`
/// flag, 1 while up.
impl prometheus_client::collector::Collector for Health {
    fn encode(&self, mut encoder: prometheus_client::encoding::DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::{
            encoding::EncodeMetric,
            metrics::{MetricType, gauge::ConstGauge},
        };
        let mut family = encoder.encode_descriptor(
            "broker_connected",
            "Whether the role's AMQP session is up (what /readyz reports)",
            None,
            MetricType::Gauge,
        )?;
        for (name, up) in self.components() {
            if let Some(role) = name.strip_prefix("broker:") {
                ConstGauge::new(i64::from(up)).encode(family.encode_family(&[("role", role)])?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_start_down_and_are_shared_by_clones() {
        let health = Health::default();
        let worker = health.flag("broker:worker");
        assert_eq!(health.components(), vec![("broker:worker", false)]);
        worker.set(true);
        assert_eq!(health.clone().components(), vec![("broker:worker", true)]);
        health.flag("broker:worker").set(false);
        assert_eq!(health.components(), vec![("broker:worker", false)]);
    }
}
