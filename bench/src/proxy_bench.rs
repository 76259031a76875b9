//! Figure 7 alone, the agents' proxy (`proxy.rs`): `bash bench/proxy.sh` (one release build)
//! prints its rows without the rest of the benchmarks. `bash bench/run.sh` runs it with them
//! and writes docs/benchmarks.md.

#[allow(dead_code)]
#[path = "setup.rs"]
mod setup;

#[allow(dead_code)]
#[path = "report.rs"]
mod report;

#[path = "proxy.rs"]
mod proxy;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let quick = std::env::args().any(|a| a == "--quick");
    let mut rows = Vec::new();
    proxy::run(tmp.path(), quick, &mut rows).await?;
    println!("{}", report::table(&rows));
    for r in &rows {
        println!("- {}: {}", r.what, r.note);
    }
    Ok(())
}
