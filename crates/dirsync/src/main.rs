use clap::Parser;
use dirsync::{cli::Cli, commands};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            // One line an operator can act on: the chain of causes, each once.
            eprintln!("error: {}", dirsync::report::Report(e.as_ref()));
            ExitCode::from(1)
        }
    }
}
