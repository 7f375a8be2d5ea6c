//! The node's GPUs: detected through NVML (the NVIDIA driver's management
//! library, loaded at run time, so the worker starts on machines without
//! it), or declared with `--simulate <count>x<model>` and then marked
//! simulated wherever they appear (logs, `doctor`, the devices record that
//! every Ray job's result hashes).

use {
    serde::Serialize,
    std::{fmt, str::FromStr},
};

/// One GPU as the worker serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    pub index: u32,
    /// The device node's minor number (`/dev/nvidia<minor>`); none when
    /// simulated.
    pub minor: Option<u32>,
    pub model: String,
    pub vram_mib: u64,
    /// Not a real device: `--simulate` declared it and the CPU does its work.
    pub simulated: bool,
    pub driver: Option<String>,
    /// CUDA version the driver supports, e.g. "12.4".
    pub cuda: Option<String>,
    pub utilization_pct: Option<u32>,
    pub temperature_c: Option<u32>,
}

impl Device {
    pub fn vram_gb(&self) -> u64 {
        self.vram_mib / 1024
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.simulated { "simulated " } else { "" };
        write!(
            f,
            "GPU {}: {kind}{} ({} GiB)",
            self.index,
            self.model,
            self.vram_gb()
        )?;
        if let (Some(driver), Some(cuda)) = (&self.driver, &self.cuda) {
            write!(f, ", driver {driver}, CUDA {cuda}")?;
        }
        if let Some(util) = self.utilization_pct {
            write!(f, ", {util}% busy")?;
        }
        if let Some(temp) = self.temperature_c {
            write!(f, ", {temp} °C")?;
        }
        Ok(())
    }
}

/// `--simulate <count>x<model>`, e.g. `2xH100-80GB` or `1xRTX4090:24`:
/// the VRAM is the number after `:`, else the model's `-<n>GB` suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulated {
    pub count: u16,
    pub model: String,
    pub vram_gb: u16,
}

impl FromStr for Simulated {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!("{text:?}: write <count>x<model>, e.g. 2xH100-80GB, or 1xRTX4090:24 (VRAM in GB after ':')")
        };
        let (count, rest) = text.split_once('x').ok_or_else(usage)?;
        let count: u16 = count.parse().map_err(|_| usage())?;
        if !(1..=1024).contains(&count) {
            return Err(format!("{text:?}: between 1 and 1024 devices"));
        }
        let (model, vram) = match rest.split_once(':') {
            Some((model, vram)) => (model, Some(vram.parse::<u16>().map_err(|_| usage())?)),
            None => (rest, None),
        };
        let vram_gb = vram.or_else(|| vram_from_model(model)).ok_or_else(usage)?;
        if model.is_empty() || model.len() > 16 || !model.is_ascii() || vram_gb == 0 {
            return Err(usage());
        }
        Ok(Self {
            count,
            model: model.to_string(),
            vram_gb,
        })
    }
}

/// `H100-80GB` → 80.
fn vram_from_model(model: &str) -> Option<u16> {
    let (_, tail) = model.rsplit_once('-')?;
    tail.strip_suffix("GB")?.parse().ok()
}

impl Simulated {
    pub fn devices(&self) -> Vec<Device> {
        (0..u32::from(self.count))
            .map(|index| Device {
                index,
                minor: None,
                model: self.model.clone(),
                vram_mib: u64::from(self.vram_gb) * 1024,
                simulated: true,
                driver: None,
                cuda: None,
                utilization_pct: None,
                temperature_c: None,
            })
            .collect()
    }
}

/// The GPUs NVML reports, or why there are none to read (no driver, no
/// device): one line a supplier can act on.
pub fn detect() -> Result<Vec<Device>, String> {
    use nvml_wrapper::{enum_wrappers::device::TemperatureSensor, Nvml};
    let nvml = Nvml::init().map_err(|e| {
        format!("no NVIDIA driver found (NVML: {e}); install the driver, or declare simulated devices with --simulate <count>x<model>")
    })?;
    let driver = nvml.sys_driver_version().ok();
    let cuda = nvml
        .sys_cuda_driver_version()
        .ok()
        .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10));
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML cannot count devices: {e}"))?;
    if count == 0 {
        return Err("the NVIDIA driver reports no GPU".into());
    }
    (0..count)
        .map(|index| {
            let device = nvml
                .device_by_index(index)
                .map_err(|e| format!("NVML cannot open GPU {index}: {e}"))?;
            Ok(Device {
                index,
                minor: device.minor_number().ok(),
                model: device.name().unwrap_or_else(|_| "unknown".into()),
                vram_mib: device
                    .memory_info()
                    .map(|m| m.total / (1024 * 1024))
                    .unwrap_or(0),
                simulated: false,
                driver: driver.clone(),
                cuda: cuda.clone(),
                utilization_pct: device.utilization_rates().ok().map(|u| u.gpu),
                temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
            })
        })
        .collect()
}

/// The devices this node serves with: the declared simulated ones, else
/// NVML's. Without either it refuses to start.
pub fn inventory(simulate: Option<&Simulated>) -> Result<Vec<Device>, String> {
    match simulate {
        Some(declared) => Ok(declared.devices()),
        None => detect(),
    }
}

/// Why these devices cannot serve a listing: it claims more GPUs than there
/// are, or more VRAM per GPU than the smallest has.
pub fn check_listing_claim(devices: &[Device], gpus: u16, vram_gb: u16) -> Result<(), String> {
    if usize::from(gpus) > devices.len() {
        return Err(format!(
            "the listing claims {gpus} GPU(s); this node has {}",
            devices.len()
        ));
    }
    let smallest = devices.iter().map(Device::vram_gb).min().unwrap_or(0);
    if u64::from(vram_gb) > smallest {
        return Err(format!(
            "the listing claims {vram_gb} GB of VRAM per GPU; this node's smallest GPU has {smallest} GB"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_devices_parse_with_their_vram() {
        let h100: Simulated = "2xH100-80GB".parse().unwrap();
        assert_eq!((h100.count, h100.vram_gb), (2, 80));
        let devices = h100.devices();
        assert_eq!(devices.len(), 2);
        assert!(devices.iter().all(|d| d.simulated && d.vram_gb() == 80));
        assert_eq!(
            devices[1].to_string(),
            "GPU 1: simulated H100-80GB (80 GiB)"
        );
        let rtx: Simulated = "1xRTX4090:24".parse().unwrap();
        assert_eq!((rtx.model.as_str(), rtx.vram_gb), ("RTX4090", 24));
        for bad in [
            "",
            "x",
            "2H100",
            "0xH100-80GB",
            "2xH100",
            "2xA:0",
            "2x:8",
            "-1xA:8",
        ] {
            assert!(bad.parse::<Simulated>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_listing_claiming_more_than_the_node_has_is_refused() {
        let devices = "2xH100-80GB".parse::<Simulated>().unwrap().devices();
        assert_eq!(check_listing_claim(&devices, 2, 80), Ok(()));
        assert_eq!(check_listing_claim(&devices, 1, 40), Ok(()));
        let more = check_listing_claim(&devices, 3, 80).unwrap_err();
        assert!(more.contains("claims 3 GPU(s); this node has 2"), "{more}");
        let vram = check_listing_claim(&devices, 1, 96).unwrap_err();
        assert!(vram.contains("96 GB"), "{vram}");
        assert!(check_listing_claim(&[], 1, 0).is_err());
    }

    #[test]
    fn leases_take_free_devices_and_give_them_back() {
        let pool = Pool::new("4xA100-80GB".parse::<Simulated>().unwrap().devices());
        let first = pool.lease(3).unwrap();
        assert_eq!(first.indices(), [0, 1, 2]);
        assert!(
            first.minors().is_empty(),
            "simulated devices have no device node"
        );
        let refused = pool.lease(2).unwrap_err();
        assert!(
            refused.contains("2 GPU(s) assigned but 1 free"),
            "{refused}"
        );
        let second = pool.lease(1).unwrap();
        assert_eq!(second.indices(), [3]);
        drop(first);
        assert_eq!(pool.lease(3).unwrap().indices(), [0, 1, 2]);
    }

    #[test]
    fn a_reattached_node_leases_the_devices_it_sees() {
        let pool = Pool::new("4xA100-80GB".parse::<Simulated>().unwrap().devices());
        let adopted = pool.lease_these(&[1, 3]).unwrap();
        assert_eq!(adopted.indices(), [1, 3]);
        assert_eq!(pool.lease(2).unwrap().indices(), [0, 2]);
        let taken = pool.lease_these(&[1]).unwrap_err();
        assert!(taken.contains("not all free"), "{taken}");
        drop(adopted);
        assert_eq!(pool.lease_these(&[3]).unwrap().indices(), [3]);
    }
}

/// The node's devices not serving an assignment right now. Each Ray node
/// leases as many as its assignment has GPUs, and its sandbox sees only
/// those.
#[derive(Clone, Debug, Default)]
pub struct Pool(std::sync::Arc<std::sync::Mutex<Vec<Device>>>);

impl Pool {
    pub fn new(devices: Vec<Device>) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(devices)))
    }

    /// `count` free devices, lowest index first, or why not (the program
    /// never assigns a listing more GPUs than it has; a worker serving two
    /// listings from one machine could).
    pub fn lease(&self, count: u16) -> Result<Lease, String> {
        let mut free = self.0.lock().unwrap();
        let count = usize::from(count);
        if free.len() < count {
            return Err(format!(
                "{count} GPU(s) assigned but {} free on this node",
                free.len()
            ));
        }
        free.sort_by_key(|d| d.index);
        let devices = free.drain(..count).collect();
        Ok(Lease {
            pool: self.clone(),
            devices,
        })
    }
}

impl Pool {
    /// Exactly the devices with these indices (those a node left running by
    /// an earlier worker process sees), or why not.
    pub fn lease_these(&self, indices: &[u32]) -> Result<Lease, String> {
        let mut free = self.0.lock().unwrap();
        if !indices.iter().all(|i| free.iter().any(|d| d.index == *i)) {
            return Err(format!(
                "the GPUs {indices:?} the running node sees are not all free on this node"
            ));
        }
        let (devices, rest) = free.drain(..).partition(|d| indices.contains(&d.index));
        *free = rest;
        Ok(Lease {
            pool: self.clone(),
            devices,
        })
    }
}

/// Devices taken from a [`Pool`], given back when dropped.
#[derive(Debug)]
pub struct Lease {
    pool: Pool,
    pub devices: Vec<Device>,
}

impl Lease {
    pub fn indices(&self) -> Vec<u32> {
        self.devices.iter().map(|d| d.index).collect()
    }

    pub fn minors(&self) -> Vec<u32> {
        self.devices.iter().filter_map(|d| d.minor).collect()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.pool.0.lock().unwrap().append(&mut self.devices);
    }
}
