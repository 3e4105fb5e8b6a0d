//! Replays the `sasl_messages` fuzz corpus through `weir_auth::check::sasl_messages`, and
//! 20,000 deterministic mutations of it (byte flips, truncations, splices), so the property
//! runs in every `cargo test` even without cargo-fuzz.

use std::path::PathBuf;

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sasl_messages");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(
        out.len() >= 5,
        "only {} seeds in {}",
        out.len(),
        dir.display()
    );
    out
}

#[test]
fn corpus_replays() {
    for input in corpus() {
        weir_auth::check::sasl_messages(&input).unwrap();
    }
}

#[test]
fn mutations_of_the_corpus_hold_the_property() {
    let seeds = corpus();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let mut input = seeds[next() as usize % seeds.len()].clone();
        for _ in 0..(next() % 4 + 1) {
            let len = input.len().max(1);
            match next() % 4 {
                0 if !input.is_empty() => {
                    let i = next() as usize % len;
                    input[i] ^= 1 << (next() % 8);
                }
                1 => input.truncate(next() as usize % len),
                2 => {
                    let other = &seeds[next() as usize % seeds.len()];
                    let at = next() as usize % (input.len() + 1);
                    input.splice(at..at, other.iter().copied());
                }
                _ => input.insert(
                    next() as usize % (input.len() + 1),
                    b",=\0"[next() as usize % 3],
                ),
            }
        }
        if let Err(violation) = weir_auth::check::sasl_messages(&input) {
            panic!("{violation} on {input:?}");
        }
    }
}
