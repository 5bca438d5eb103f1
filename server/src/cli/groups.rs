//! `klog groups`.

use std::collections::{BTreeMap, HashMap};

use clap::{Args, Subcommand};
use klog::client::{OffsetSpec, TopicPartition};

use super::connect::Session;
use super::error::{CliError, CliResult, Context};
use super::output::{print, Table};

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List consumer groups.
    List,
    /// State, members, assignment and per-partition committed offset, end and lag.
    Describe {
        /// Group id.
        group: String,
    },
    /// Delete groups (they must have no active members) and their committed offsets.
    Delete {
        /// Group ids.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Move a group's committed offsets on a topic (a dry run unless --execute).
    ResetOffsets(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Group id.
    group: String,
    /// Topic whose offsets move.
    #[arg(short, long)]
    topic: String,
    /// Only this partition (repeatable; default: every partition of the topic).
    #[arg(short, long)]
    partition: Vec<i32>,
    /// `earliest`, `latest`, an offset, or `@TIMESTAMP_MS` (the first record at or after it).
    #[arg(long, value_name = "WHERE")]
    to: String,
    /// Apply the plan (without it, only print it).
    #[arg(long)]
    execute: bool,
}

/// Where `reset-offsets --to` points.
#[derive(Debug, Clone, Copy)]
enum Target {
    Spec(OffsetSpec),
    Offset(i64),
}

fn parse_target(s: &str) -> Result<Target, String> {
    match s {
        "earliest" | "beginning" => Ok(Target::Spec(OffsetSpec::Earliest)),
        "latest" | "end" => Ok(Target::Spec(OffsetSpec::Latest)),
        _ => {
            if let Some(ts) = s.strip_prefix('@') {
                ts.parse::<i64>()
                    .map(|t| Target::Spec(OffsetSpec::Timestamp(t)))
                    .map_err(|_| format!("expected @TIMESTAMP_MS, got {s:?}"))
            } else {
                match s.parse::<i64>() {
                    Ok(o) if o >= 0 => Ok(Target::Offset(o)),
                    _ => Err(format!("expected earliest, latest, an offset or @TIMESTAMP_MS, got {s:?}")),
                }
            }
        }
    }
}

impl ResetArgs {
    /// Checks the flags before connecting.
    pub fn validate(&self) -> CliResult {
        parse_target(&self.to).map(|_| ()).map_err(|e| CliError::usage("invalid --to", e))
    }
}

pub async fn run(session: &Session, cmd: GroupsCommand) -> CliResult {
    let admin = &session.admin;
    match cmd {
        GroupsCommand::List => {
            let groups = admin.list_groups().await.ctx("cannot list groups")?;
            print(&groups.into_iter().map(|(g, _)| g + "\n").collect::<String>());
        }
        GroupsCommand::Describe { group } => describe(session, &group).await?,
        GroupsCommand::Delete { groups } => {
            for group in groups {
                admin.delete_group(&group).await.ctx(format!("cannot delete group {group}"))?;
                eprintln!("deleted group {group}");
            }
        }
        GroupsCommand::ResetOffsets(args) => reset_offsets(session, args).await?,
    }
    Ok(())
}

async fn describe(session: &Session, group: &str) -> CliResult {
    let admin = &session.admin;
    let what = || format!("cannot describe group {group}");
    let description = admin.describe_group(group).await.ctx(what())?;
    let offsets = admin.group_offsets(group).await.ctx(what())?;
    if description.state == "Dead" && offsets.is_empty() {
        return Err(CliError::failed(what(), "no such group"));
    }
    let mut owner: HashMap<TopicPartition, String> = HashMap::new();
    for m in &description.members {
        for tp in &m.assignment {
            owner.insert(tp.clone(), m.member_id.clone());
        }
    }
    let mut out = format!(
        "Group: {}\nState: {}\nProtocol: {}\nMembers: {}\n",
        description.group_id,
        description.state,
        if description.protocol.is_empty() { "-" } else { &description.protocol },
        description.members.len()
    );
    if !description.members.is_empty() {
        out.push('\n');
        let mut table = Table::new(&["MEMBER", "CLIENT", "HOST", "ASSIGNMENT"]);
        for m in &description.members {
            let assignment: Vec<String> =
                m.assignment.iter().map(|tp| format!("{}-{}", tp.topic, tp.partition)).collect();
            table.row(vec![m.member_id.clone(), m.client_id.clone(), m.client_host.clone(), assignment.join(",")]);
        }
        out.push_str(&table.render());
    }
    out.push('\n');
    // Assigned partitions without a committed offset are listed too (COMMITTED and LAG "-").
    let committed: BTreeMap<TopicPartition, (i64, i64, i64)> =
        offsets.iter().map(|o| (o.partition.clone(), (o.committed, o.end, o.lag))).collect();
    let uncommitted: Vec<TopicPartition> = owner.keys().filter(|tp| !committed.contains_key(*tp)).cloned().collect();
    let ends = if uncommitted.is_empty() {
        HashMap::new()
    } else {
        admin.list_offsets(&uncommitted, OffsetSpec::Latest).await.ctx(what())?
    };
    let mut rows: BTreeMap<TopicPartition, [String; 3]> =
        committed.iter().map(|(tp, (c, e, l))| (tp.clone(), [c.to_string(), e.to_string(), l.to_string()])).collect();
    for tp in uncommitted {
        let end = ends.get(&tp).copied().flatten().map_or("-".to_string(), |e| e.to_string());
        rows.insert(tp, ["-".into(), end, "-".into()]);
    }
    let total_lag: i64 = offsets.iter().map(|o| o.lag).sum();
    let mut table = Table::new(&["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"]);
    for (tp, [c, e, l]) in rows {
        let member = owner.get(&tp).cloned().unwrap_or_else(|| "-".into());
        table.row(vec![tp.topic.clone(), tp.partition.to_string(), c, e, l, member]);
    }
    out.push_str(&table.render());
    out.push_str(&format!("\nTotal lag: {total_lag}\n"));
    print(&out);
    Ok(())
}

async fn reset_offsets(session: &Session, args: ResetArgs) -> CliResult {
    let admin = &session.admin;
    let target = parse_target(&args.to).map_err(|e| CliError::usage("invalid --to", e))?;
    let what = || format!("cannot reset offsets of group {} on {}", args.group, args.topic);
    let topic = admin.describe_topic(&args.topic).await.ctx(what())?;
    let mut partitions: Vec<TopicPartition> =
        topic.partitions.iter().map(|p| TopicPartition::new(&args.topic, p.partition)).collect();
    if !args.partition.is_empty() {
        for p in &args.partition {
            if !partitions.iter().any(|tp| tp.partition == *p) {
                return Err(CliError::failed(what(), format!("topic has no partition {p}")));
            }
        }
        partitions.retain(|tp| args.partition.contains(&tp.partition));
    }
    let earliest = admin.list_offsets(&partitions, OffsetSpec::Earliest).await.ctx(what())?;
    let latest = admin.list_offsets(&partitions, OffsetSpec::Latest).await.ctx(what())?;
    let by_time = match target {
        Target::Spec(spec @ OffsetSpec::Timestamp(_)) => Some(admin.list_offsets(&partitions, spec).await.ctx(what())?),
        _ => None,
    };
    let current: BTreeMap<TopicPartition, i64> =
        admin.group_offsets(&args.group).await.ctx(what())?.into_iter().map(|o| (o.partition, o.committed)).collect();

    let mut plan = Vec::new();
    let mut table = Table::new(&["TOPIC", "PARTITION", "CURRENT", "NEW"]);
    for tp in &partitions {
        let low = earliest.get(tp).copied().flatten().unwrap_or(0);
        let high = latest.get(tp).copied().flatten().unwrap_or(low);
        let new = match target {
            Target::Spec(OffsetSpec::Earliest) => low,
            Target::Spec(OffsetSpec::Latest) => high,
            // No record at or after the time: the end, as Kafka's tool does.
            Target::Spec(OffsetSpec::Timestamp(_)) => {
                by_time.as_ref().and_then(|m| m.get(tp).copied().flatten()).unwrap_or(high)
            }
            // Out-of-range offsets are clamped to the partition, as Kafka's tool does.
            Target::Offset(o) => o.clamp(low, high),
        };
        let cur = current.get(tp).map_or("-".to_string(), |c| c.to_string());
        table.row(vec![tp.topic.clone(), tp.partition.to_string(), cur, new.to_string()]);
        plan.push((tp.clone(), new));
    }
    print(&table.render());
    if args.execute {
        admin.set_group_offsets(&args.group, &plan).await.ctx(what())?;
        eprintln!("reset offsets of group {} on {} partition(s)", args.group, plan.len());
    } else {
        eprintln!("dry run: nothing changed; add --execute to apply");
    }
    Ok(())
}
