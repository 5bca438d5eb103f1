//! `klog topics`.

use clap::Subcommand;
use klog::client::{NewTopic, OffsetSpec, TopicPartition};
use klog::ErrorKind;

use super::connect::{parse_key_value, Session};
use super::error::{CliError, CliResult, Context};
use super::output::{print, Table};

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions [default: the broker's].
        #[arg(short, long)]
        partitions: Option<i32>,
        /// Replication factor [default: the broker's].
        #[arg(short = 'r', long)]
        replication_factor: Option<i16>,
        /// Topic config with its Kafka name, e.g. `--config retention.ms=3600000` (repeatable).
        #[arg(short, long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        /// Succeed if the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topic names, one per line.
    List {
        /// Also print partition counts.
        #[arg(short, long)]
        long: bool,
    },
    /// Partitions, leaders, offsets and configs of a topic.
    Describe {
        /// Topic name.
        name: String,
        /// Print every config, defaults included (default: only those set on the topic).
        #[arg(long)]
        all_configs: bool,
    },
    /// Delete topics.
    Delete {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Add partitions or change configs.
    Alter {
        /// Topic name.
        name: String,
        /// New total number of partitions (can only grow).
        #[arg(short, long)]
        partitions: Option<i32>,
        /// Set a config, e.g. `--set retention.ms=60000` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        set: Vec<(String, String)>,
        /// Remove a config from the topic, back to the default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}

pub async fn run(session: &Session, cmd: TopicsCommand) -> CliResult {
    let admin = &session.admin;
    match cmd {
        TopicsCommand::Create { name, partitions, replication_factor, configs, if_not_exists } => {
            let mut topic = NewTopic::new(&name, partitions.unwrap_or(-1));
            topic.replication_factor = replication_factor.unwrap_or(-1);
            topic.configs = configs.into_iter().collect();
            match admin.create_topic(topic).await {
                Ok(()) => eprintln!("created topic {name}"),
                Err(e) if if_not_exists && e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).ctx(format!("cannot create topic {name}")),
            }
        }
        TopicsCommand::List { long } => {
            let topics = admin.list_topics().await.ctx("cannot list topics")?;
            if long {
                let mut table = Table::new(&["TOPIC", "PARTITIONS"]);
                for t in topics {
                    table.row(vec![t.name, t.partitions.len().to_string()]);
                }
                print(&table.render());
            } else {
                print(&topics.into_iter().map(|t| t.name + "\n").collect::<String>());
            }
        }
        TopicsCommand::Describe { name, all_configs } => describe(session, &name, all_configs).await?,
        TopicsCommand::Delete { names } => {
            for name in &names {
                admin.delete_topics(&[name.as_str()]).await.ctx(format!("cannot delete topic {name}"))?;
                eprintln!("deleted topic {name}");
            }
        }
        TopicsCommand::Alter { name, partitions, set, delete } => {
            if partitions.is_none() && set.is_empty() && delete.is_empty() {
                return Err(CliError::usage(
                    format!("cannot alter topic {name}"),
                    "nothing to change (give --partitions, --set or --delete)",
                ));
            }
            if let Some(total) = partitions {
                let current = admin.describe_topic(&name).await.ctx(format!("cannot alter topic {name}"))?;
                if total as usize != current.partitions.len() {
                    admin.create_partitions(&name, total).await.ctx(format!("cannot add partitions to {name}"))?;
                    eprintln!("topic {name} now has {total} partitions");
                }
            }
            if !set.is_empty() || !delete.is_empty() {
                let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let delete: Vec<&str> = delete.iter().map(String::as_str).collect();
                admin.alter_configs(&name, &set, &delete).await.ctx(format!("cannot alter configs of {name}"))?;
                eprintln!("altered configs of topic {name}");
            }
        }
    }
    Ok(())
}

async fn describe(session: &Session, name: &str, all_configs: bool) -> CliResult {
    let admin = &session.admin;
    let what = || format!("cannot describe topic {name}");
    let topic = admin.describe_topic(name).await.ctx(what())?;
    let partitions: Vec<TopicPartition> =
        topic.partitions.iter().map(|p| TopicPartition::new(name, p.partition)).collect();
    let earliest = admin.list_offsets(&partitions, OffsetSpec::Earliest).await.ctx(what())?;
    let latest = admin.list_offsets(&partitions, OffsetSpec::Latest).await.ctx(what())?;
    let configs = admin.describe_configs(name).await.ctx(what())?;

    let mut out = format!("Topic: {}\nId: {}\nPartitions: {}\n\n", topic.name, topic.id, topic.partitions.len());
    let mut table = Table::new(&["PARTITION", "LEADER", "EPOCH", "EARLIEST", "LATEST", "RECORDS"]);
    let show = |o: Option<&Option<i64>>| o.copied().flatten().map_or("-".to_string(), |v| v.to_string());
    for (p, tp) in topic.partitions.iter().zip(&partitions) {
        let (first, end) = (earliest.get(tp), latest.get(tp));
        let records = match (first.copied().flatten(), end.copied().flatten()) {
            (Some(a), Some(b)) => (b - a).max(0).to_string(),
            _ => "-".into(),
        };
        table.row(vec![
            p.partition.to_string(),
            p.leader.to_string(),
            p.leader_epoch.to_string(),
            show(first),
            show(end),
            records,
        ]);
    }
    out.push_str(&table.render());
    let shown: Vec<_> = configs.iter().filter(|(_, c)| all_configs || !c.is_default).collect();
    out.push_str(if all_configs {
        "\nConfigs:\n"
    } else {
        "\nConfigs (set on the topic; --all-configs for defaults):\n"
    });
    if shown.is_empty() {
        out.push_str("  (none)\n");
    }
    for (key, entry) in shown {
        let value = entry.value.as_deref().unwrap_or("(sensitive)");
        let mark = if entry.is_default { "  (default)" } else { "" };
        out.push_str(&format!("  {key}={value}{mark}\n"));
    }
    print(&out);
    Ok(())
}
