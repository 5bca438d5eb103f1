//! Partition assignors run by the group leader: range, round-robin and
//! cooperative-sticky, over the members' subscriptions. Pure functions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Assignor, TopicPartition};

/// What one member asked for (decoded from its JoinGroup metadata).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    pub owned: Vec<TopicPartition>,
    pub generation: i32,
}

impl Subscription {
    /// Members are ordered by instance id when static, else by member id (as Kafka's assignors do).
    fn sort_key(&self) -> (&str, &str) {
        (self.instance_id.as_deref().unwrap_or(&self.member_id), &self.member_id)
    }
}

/// Assignment per member id; every member gets an entry (possibly empty).
pub(crate) type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Runs `assignor` over `members`; `partitions` gives each known topic's partition count.
pub(crate) fn assign(assignor: Assignor, members: &[Subscription], partitions: &BTreeMap<String, i32>) -> Assignment {
    let mut members: Vec<&Subscription> = members.iter().collect();
    members.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut out: Assignment = members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
    match assignor {
        Assignor::Range => range(&members, partitions, &mut out),
        Assignor::RoundRobin => round_robin(&members, partitions, &mut out),
        Assignor::CooperativeSticky => sticky(&members, partitions, &mut out),
    }
    for parts in out.values_mut() {
        parts.sort();
    }
    out
}

fn subscribers<'a>(members: &[&'a Subscription], topic: &str) -> Vec<&'a Subscription> {
    members.iter().copied().filter(|m| m.topics.iter().any(|t| t == topic)).collect()
}

fn range(members: &[&Subscription], partitions: &BTreeMap<String, i32>, out: &mut Assignment) {
    for (topic, &count) in partitions {
        let subs = subscribers(members, topic);
        if subs.is_empty() || count <= 0 {
            continue;
        }
        let n = subs.len() as i32;
        let (per, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, m) in subs.iter().enumerate() {
            let take = per + i32::from((i as i32) < extra);
            let list = out.entry(m.member_id.clone()).or_default();
            list.extend((next..next + take).map(|p| TopicPartition::new(topic.clone(), p)));
            next += take;
        }
    }
}

fn round_robin(members: &[&Subscription], partitions: &BTreeMap<String, i32>, out: &mut Assignment) {
    if members.is_empty() {
        return;
    }
    let mut turn = 0usize;
    for (topic, &count) in partitions {
        for p in 0..count.max(0) {
            // The next member in the circle that subscribes to this topic.
            for step in 0..members.len() {
                let m = members[(turn + step) % members.len()];
                if m.topics.iter().any(|t| t == topic) {
                    out.entry(m.member_id.clone()).or_default().push(TopicPartition::new(topic.clone(), p));
                    turn = (turn + step + 1) % members.len();
                    break;
                }
            }
        }
    }
}

/// Sticky: members keep what they own (when still valid and within balance), the
/// rest is dealt to the least loaded eligible members, then partitions move only
/// while that narrows the gap between the most and least loaded members.
fn sticky(members: &[&Subscription], partitions: &BTreeMap<String, i32>, out: &mut Assignment) {
    let exists =
        |tp: &TopicPartition| partitions.get(&tp.topic).is_some_and(|&n| tp.partition >= 0 && tp.partition < n);
    let eligible = |m: &Subscription, tp: &TopicPartition| m.topics.contains(&tp.topic);
    let all: Vec<TopicPartition> = partitions
        .iter()
        .filter(|(topic, _)| members.iter().any(|m| m.topics.contains(topic)))
        .flat_map(|(topic, &n)| (0..n.max(0)).map(move |p| TopicPartition::new(topic.clone(), p)))
        .collect();
    // Claims by ownership; on a conflict the member of the newest generation wins.
    let mut owner: HashMap<TopicPartition, (i32, usize)> = HashMap::new();
    for (i, m) in members.iter().enumerate() {
        for tp in &m.owned {
            if !exists(tp) || !eligible(m, tp) {
                continue;
            }
            match owner.get(tp) {
                Some(&(g, _)) if g >= m.generation => {}
                _ => {
                    owner.insert(tp.clone(), (m.generation, i));
                }
            }
        }
    }
    let mut sets: Vec<BTreeSet<TopicPartition>> = vec![BTreeSet::new(); members.len()];
    for (tp, (_, i)) in owner {
        sets[i].insert(tp);
    }
    // When everyone subscribes to the same topics, trim owned sets to the fair quota first.
    let same_topics = members.windows(2).all(|w| {
        let a: BTreeSet<&String> = w[0].topics.iter().collect();
        let b: BTreeSet<&String> = w[1].topics.iter().collect();
        a == b
    });
    if same_topics && !members.is_empty() {
        let n = members.len();
        let (min_quota, extra) = (all.len() / n, all.len() % n);
        let mut max_slots = extra;
        // Members that own the most keep the extra slots first.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sets[i].len()));
        for i in order {
            let quota = if max_slots > 0 && sets[i].len() > min_quota {
                max_slots -= 1;
                min_quota + 1
            } else {
                min_quota
            };
            while sets[i].len() > quota {
                sets[i].pop_last();
            }
        }
    }
    let taken: BTreeSet<TopicPartition> = sets.iter().flatten().cloned().collect();
    for tp in all.iter().filter(|tp| !taken.contains(tp)) {
        let best = (0..members.len()).filter(|&i| eligible(members[i], tp)).min_by_key(|&i| (sets[i].len(), i));
        if let Some(i) = best {
            sets[i].insert(tp.clone());
        }
    }
    // Balance: move from the most loaded to a less loaded eligible member while it helps.
    let limit = all.len() * members.len() + 1;
    for _ in 0..limit {
        let mut moved = false;
        let mut donors: Vec<usize> = (0..members.len()).collect();
        donors.sort_by_key(|&i| std::cmp::Reverse(sets[i].len()));
        'outer: for &d in &donors {
            let candidates: Vec<TopicPartition> = sets[d].iter().rev().cloned().collect();
            for tp in candidates {
                let receiver = (0..members.len())
                    .filter(|&r| r != d && eligible(members[r], &tp) && sets[r].len() + 1 < sets[d].len())
                    .min_by_key(|&r| (sets[r].len(), r));
                if let Some(r) = receiver {
                    sets[d].remove(&tp);
                    sets[r].insert(tp);
                    moved = true;
                    break 'outer;
                }
            }
        }
        if !moved {
            break;
        }
    }
    for (i, set) in sets.into_iter().enumerate() {
        out.entry(members[i].member_id.clone()).or_default().extend(set);
    }
}

/// Cooperative protocol: a partition that changes owner is first only revoked (left
/// out of the new owner's assignment); the next rebalance hands it over.
pub(crate) fn cooperative_adjust(assignment: &mut Assignment, members: &[Subscription]) {
    let mut owner: HashMap<&TopicPartition, &str> = HashMap::new();
    for m in members {
        for tp in &m.owned {
            owner.insert(tp, &m.member_id);
        }
    }
    for (member, parts) in assignment.iter_mut() {
        parts.retain(|tp| owner.get(tp).is_none_or(|o| *o == member.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str], owned: &[(&str, i32)]) -> Subscription {
        Subscription {
            member_id: id.into(),
            instance_id: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: owned.iter().map(|(t, p)| TopicPartition::new(*t, *p)).collect(),
            generation: 1,
        }
    }

    fn counts(topics: &[(&str, i32)]) -> BTreeMap<String, i32> {
        topics.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn names(parts: &[TopicPartition]) -> Vec<String> {
        parts.iter().map(|tp| format!("{}{}", tp.topic, tp.partition)).collect()
    }

    fn check_complete(a: &Assignment, topics: &BTreeMap<String, i32>) {
        let mut seen = BTreeSet::new();
        for parts in a.values() {
            for tp in parts {
                assert!(seen.insert(tp.clone()), "{tp:?} assigned twice");
            }
        }
        let total: i32 = topics.values().sum();
        assert_eq!(seen.len(), total as usize);
    }

    #[test]
    fn range_gives_consecutive_partitions_per_topic() {
        let topics = counts(&[("t", 5), ("u", 2)]);
        let members = vec![member("b", &["t", "u"], &[]), member("a", &["t", "u"], &[])];
        let a = assign(Assignor::Range, &members, &topics);
        assert_eq!(names(&a["a"]), ["t0", "t1", "t2", "u0"]);
        assert_eq!(names(&a["b"]), ["t3", "t4", "u1"]);
        check_complete(&a, &topics);
        // Only subscribers get a topic's partitions.
        let members = vec![member("a", &["t"], &[]), member("b", &["t", "u"], &[])];
        let a = assign(Assignor::Range, &members, &topics);
        assert_eq!(names(&a["b"]), ["t3", "t4", "u0", "u1"]);
    }

    #[test]
    fn round_robin_deals_in_turn() {
        let topics = counts(&[("t", 3), ("u", 3)]);
        let members = vec![member("a", &["t", "u"], &[]), member("b", &["t", "u"], &[])];
        let a = assign(Assignor::RoundRobin, &members, &topics);
        assert_eq!(names(&a["a"]), ["t0", "t2", "u1"]);
        assert_eq!(names(&a["b"]), ["t1", "u0", "u2"]);
        check_complete(&a, &topics);
        let members = vec![member("a", &["t"], &[]), member("b", &["t", "u"], &[]), member("c", &["u"], &[])];
        let a = assign(Assignor::RoundRobin, &members, &topics);
        check_complete(&a, &topics);
        assert!(a["a"].iter().all(|tp| tp.topic == "t"));
        assert!(a["c"].iter().all(|tp| tp.topic == "u"));
    }

    #[test]
    fn sticky_balances_and_keeps_owned_partitions() {
        let topics = counts(&[("t", 6)]);
        let fresh = vec![member("a", &["t"], &[]), member("b", &["t"], &[])];
        let first = assign(Assignor::CooperativeSticky, &fresh, &topics);
        check_complete(&first, &topics);
        assert_eq!((first["a"].len(), first["b"].len()), (3, 3));
        // A third member joins: a and b keep 2 of their 3 each, c gets the freed two.
        let owned = |m: &str| first[m].iter().map(|tp| (tp.topic.as_str(), tp.partition)).collect::<Vec<_>>();
        let members =
            vec![member("a", &["t"], &owned("a")), member("b", &["t"], &owned("b")), member("c", &["t"], &[])];
        let second = assign(Assignor::CooperativeSticky, &members, &topics);
        check_complete(&second, &topics);
        for m in ["a", "b"] {
            assert_eq!(second[m].len(), 2);
            assert!(second[m].iter().all(|tp| first[m].contains(tp)), "{m} lost a partition it could keep");
        }
        assert_eq!(second["c"].len(), 2);
        // Cooperative: c gets nothing this round (those partitions are still owned), a and b revoke one each.
        let mut adjusted = second.clone();
        cooperative_adjust(&mut adjusted, &members);
        assert!(adjusted["c"].is_empty());
        assert_eq!(adjusted["a"], second["a"]);
        // Next round (a and b revoked): c gets them, nobody else moves.
        let members = vec![
            member("a", &["t"], &second["a"].iter().map(|tp| ("t", tp.partition)).collect::<Vec<_>>()),
            member("b", &["t"], &second["b"].iter().map(|tp| ("t", tp.partition)).collect::<Vec<_>>()),
            member("c", &["t"], &[]),
        ];
        let third = assign(Assignor::CooperativeSticky, &members, &topics);
        assert_eq!(third, second);
        // A member leaves: its partitions are spread, the others keep theirs.
        let members = vec![
            member("a", &["t"], &second["a"].iter().map(|tp| ("t", tp.partition)).collect::<Vec<_>>()),
            member("c", &["t"], &second["c"].iter().map(|tp| ("t", tp.partition)).collect::<Vec<_>>()),
        ];
        let fourth = assign(Assignor::CooperativeSticky, &members, &topics);
        check_complete(&fourth, &topics);
        assert_eq!((fourth["a"].len(), fourth["c"].len()), (3, 3));
        assert!(second["a"].iter().all(|tp| fourth["a"].contains(tp)));
        assert!(second["c"].iter().all(|tp| fourth["c"].contains(tp)));
    }

    #[test]
    fn sticky_handles_conflicts_stale_claims_and_uneven_subscriptions() {
        let topics = counts(&[("t", 4), ("u", 2)]);
        let mut old = member("a", &["t", "u"], &[("t", 0), ("t", 9), ("gone", 0)]);
        old.generation = 1;
        let mut newer = member("b", &["t"], &[("t", 0), ("u", 1)]);
        newer.generation = 2;
        let a = assign(Assignor::CooperativeSticky, &[old, newer], &topics);
        check_complete(&a, &topics);
        assert!(a["b"].contains(&TopicPartition::new("t", 0)), "the newer generation's claim wins");
        assert!(a["b"].iter().all(|tp| tp.topic == "t"), "b does not subscribe to u");
        let diff = a["a"].len() as i32 - a["b"].len() as i32;
        assert!(diff.abs() <= 1, "{a:?}");
    }
}
