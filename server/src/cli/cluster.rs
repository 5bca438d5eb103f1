//! `klog cluster`.

use clap::Subcommand;

use super::connect::Session;
use super::error::{CliResult, Context};
use super::output::{print, Table};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Cluster id, controller and brokers.
    Describe,
}

pub async fn run(session: &Session, cmd: ClusterCommand) -> CliResult {
    match cmd {
        ClusterCommand::Describe => {
            let cluster = session.admin.describe_cluster().await.ctx("describing the cluster")?;
            let mut out = format!("Cluster id: {}\nController: {}\n\n", cluster.cluster_id, cluster.controller);
            let mut table = Table::new(&["BROKER", "ADDRESS", "ROLE"]);
            for (id, address) in cluster.brokers {
                let role = if id == cluster.controller { "controller" } else { "" };
                table.row(vec![id.to_string(), address, role.to_string()]);
            }
            out.push_str(&table.render());
            print(&out);
            Ok(())
        }
    }
}
