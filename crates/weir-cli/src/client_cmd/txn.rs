//! `weir txn list|describe`: transactional ids, their state and producer, and the
//! partitions of each open transaction (ListTransactions, DescribeTransactions).

use serde_json::json;

use super::{ConnArgs, block_on, connect};

/// `weir txn ...`
#[derive(Debug, clap::Args)]
pub struct TxnArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: TxnCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TxnCommand {
    /// List transactional ids with their producer id and state.
    List {
        /// Only these states (repeatable: Ongoing, PrepareCommit, CompleteCommit, …).
        #[arg(long = "state")]
        states: Vec<String>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One transactional id: state, producer id and epoch, timeout, start time, partitions.
    Describe {
        /// The transactional id.
        transactional_id: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `weir txn`.
pub fn run(args: TxnArgs) -> anyhow::Result<()> {
    block_on(async move {
        let client = connect(&args.conn).await?;
        match args.command {
            TxnCommand::List { states, json } => {
                let all = client.list_transactions(&states).await?;
                if json {
                    let v: Vec<_> = all
                        .iter()
                        .map(|t| json!({"transactional_id": t.transactional_id, "producer_id": t.producer_id, "state": t.state}))
                        .collect();
                    println!("{}", json!({ "transactions": v }));
                } else {
                    for t in all {
                        println!("{}\t{}\t{}", t.transactional_id, t.producer_id, t.state);
                    }
                }
            }
            TxnCommand::Describe {
                transactional_id,
                json,
            } => {
                let d = client.describe_transaction(&transactional_id).await?;
                if json {
                    println!(
                        "{}",
                        json!({
                            "transactional_id": d.transactional_id,
                            "state": d.state,
                            "producer_id": d.producer_id,
                            "producer_epoch": d.producer_epoch,
                            "timeout_ms": d.timeout_ms,
                            "start_time_ms": (d.start_time_ms >= 0).then_some(d.start_time_ms),
                            "partitions": d.partitions,
                        })
                    );
                } else {
                    println!("transactional id {}", d.transactional_id);
                    println!("state            {}", d.state);
                    println!(
                        "producer         {} epoch {}",
                        d.producer_id, d.producer_epoch
                    );
                    println!("timeout          {} ms", d.timeout_ms);
                    if d.start_time_ms >= 0 {
                        println!("started          {} ms since the epoch", d.start_time_ms);
                    }
                    for (topic, parts) in &d.partitions {
                        for p in parts {
                            println!("partition        {topic}-{p}");
                        }
                    }
                }
            }
        }
        Ok(())
    })
}
