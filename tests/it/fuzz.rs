//! Replays every input in fuzz/regressions through the fuzz targets' own code
//! (`cxpulse::fuzzing`): hostile inputs written by hand when the targets were made, and every
//! crash the fuzzer finds from then on (`bash scripts/fuzz.sh` says where to put them).

use crate::util::repo;

type Target = fn(&[u8]);

#[test]
fn every_saved_fuzz_input_is_handled() {
    let targets: [(&str, Target); 6] = [
        ("feed", cxpulse::fuzzing::feed),
        ("jsonld", cxpulse::fuzzing::jsonld),
        ("selectors", cxpulse::fuzzing::selectors),
        ("config", cxpulse::fuzzing::config),
        ("text", cxpulse::fuzzing::text),
        ("api_query", cxpulse::fuzzing::api_query),
    ];
    for (name, run) in targets {
        let dir = repo().join("fuzz/regressions").join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no saved inputs for {name}");
        for f in files {
            let data = std::fs::read(&f).unwrap();
            if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{name} fails on {}: {msg}", f.display());
            }
        }
    }
}
