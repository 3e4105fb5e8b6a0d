//! `weir log dump PATH` and `weir log verify DIR`: offline, read-only inspection of
//! partition files (the formats of `docs/format.md`), in the manner of Kafka's
//! `kafka-dump-log`.
//!
//! Nothing here opens a [`weir_storage::Log`]: opening runs recovery, which may
//! truncate segments and rewrite indexes. These commands only read the files, one
//! batch at a time, checking every length against the bytes left in the file before
//! reading it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

mod dump;
mod verify;
use std::process::ExitCode;

use anyhow::Context as _;
use bytes::Bytes;
use weir_protocol::records::RecordBatch;
use weir_storage::inspect;

/// `weir log ...`
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(subcommand)]
    command: LogCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LogCommand {
    /// Print the batches of a `.log` segment, or the entries of a `.index`/`.timeindex`/`.txnindex`.
    Dump(DumpArgs),
    /// Check a partition directory offline (CRCs, offsets, indexes, transaction indexes); exit 1 on corruption.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct DumpArgs {
    /// A `.log`, `.index`, `.timeindex` or `.txnindex` file.
    path: PathBuf,
    /// Also print each record of each batch.
    #[arg(long)]
    records: bool,
    /// With `--records`, print keys and values (UTF-8, invalid bytes replaced).
    #[arg(long, requires = "records")]
    print_data: bool,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// A partition directory (`<data_dir>/<topic>-<partition>`).
    dir: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `weir log ...`; the exit code is 1 when corruption was found.
pub fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    let clean = match args.command {
        LogCommand::Dump(a) => dump::dump(&a)?,
        LogCommand::Verify(a) => verify::verify(&a)?,
    };
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Base offset from a segment file name (`<20 digits>.<ext>`).
fn base_offset_of(path: &Path) -> Option<i64> {
    inspect::base_offset_of(path)
}

/// One batch read from a segment file, or why none could be.
enum Next {
    End,
    Batch(Box<RecordBatch>),
    Bad(String),
}

/// Reads the batch at `pos` with the storage inspector's reader (framing checked against
/// the bytes the file holds), then parses its header. CRC and counts are checked by the
/// caller.
fn read_batch(file: &File, pos: u64, file_len: u64) -> io::Result<Next> {
    if pos >= file_len {
        return Ok(Next::End);
    }
    Ok(match inspect::read_batch(file, pos, file_len)? {
        Err(why) => Next::Bad(why),
        Ok(buf) => match RecordBatch::parse_exact(Bytes::from(buf)) {
            Ok(b) => Next::Batch(Box::new(b)),
            Err(e) => Next::Bad(e.to_string()),
        },
    })
}

/// Checks of a framed batch beyond its framing: the storage inspector's stored-batch
/// checks (CRC, counts, codec).
fn batch_problem(batch: &RecordBatch) -> Option<String> {
    inspect::stored_batch_problem(batch.as_bytes()).err()
}

fn open_len(path: &Path) -> anyhow::Result<(File, u64)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading metadata of {}", path.display()))?
        .len();
    Ok((file, len))
}

/// The entries of an index file (the storage inspector's reader).
fn read_index(path: &Path, time: bool) -> anyhow::Result<inspect::IndexEntries> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(inspect::IndexEntries::parse(&data, time))
}
