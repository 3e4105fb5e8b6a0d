//! Generates `weir-protocol`'s message codecs from Kafka's JSON schemas.
fn main() {
    eprintln!("weir-codegen: not yet written");
}
