//! Seeds the fuzz corpus with valid requests (run with `WEIR_WRITE_FUZZ_CORPUS=1`).

use crate::api::ADVERTISED;
use crate::arbitrary::Gen;
use crate::encoder::Encoder;
use crate::messages::RequestBody;
use std::path::PathBuf;

/// Where the request_decode corpus lives.
fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/request_decode")
}

/// One seed per advertised API at every advertised version: api key, version, body.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for &(key, min, max) in ADVERTISED {
        for version in min..=max {
            let body = RequestBody::arbitrary(
                key,
                &mut Gen::new(u64::from(version as u16) << 16 | key.as_i16() as u64),
                version,
            );
            let mut e = Encoder::new();
            body.encode(&mut e, version).unwrap();
            let mut input = key.as_i16().to_be_bytes().to_vec();
            input.extend_from_slice(&version.to_be_bytes());
            input.extend_from_slice(&e.finish().to_bytes());
            out.push((format!("{}-v{version}", key.name()), input));
        }
    }
    out
}

#[test]
fn write_fuzz_corpus_when_asked() {
    let seeds = seeds();
    for (_, input) in &seeds {
        assert_eq!(crate::check::request_roundtrip(input), Ok(()));
    }
    if std::env::var_os("WEIR_WRITE_FUZZ_CORPUS").is_none() {
        return;
    }
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    for (name, input) in seeds {
        std::fs::write(dir.join(name), input).unwrap();
    }
}
