using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Simulation;

/// <summary>
/// One worker: runs the candidate (and the baseline) over one customer at a time and adds what it observes to its own
/// <see cref="Tally"/>. Per-customer scratch is reused, so the memory of a worker does not grow with the customers.
/// </summary>
internal sealed class CustomerSimulator
{
    private readonly SimulationPlan plan;
    private readonly int[] contacts;
    private readonly List<string>[] qualifyingByGroup;
    private readonly HashSet<(string Segment, string? HeldBy)> blockedSeen = [];
    private readonly HashSet<(int Group, string First, string Second)> overlapsSeen = [];
    private readonly List<CustomerEvent> ordered = [];

    public CustomerSimulator(SimulationPlan plan)
    {
        this.plan = plan;
        Tally = new Tally(plan);
        contacts = new int[plan.ExclusiveGroups.Length];
        qualifyingByGroup = [.. plan.ExclusiveGroups.Select(_ => new List<string>())];
    }

    public Tally Tally { get; }

    public void Snapshot(CustomerState profile, DateTimeOffset at)
    {
        var candidate = profile.Clone();
        ObserveCandidate(plan.Candidate.Evaluate(candidate, at), at, long.MinValue);
        CustomerState? baseline = null;
        if (plan.Baseline is { } baselineEngine)
        {
            baseline = profile.Clone();
            ObserveBaseline(baselineEngine.Evaluate(baseline, at), at, long.MinValue);
        }

        Finish(profile.CustomerId, candidate, baseline);
    }

    public void Replay(CustomerHistory history, DateTimeOffset from, DateTimeOffset to)
    {
        ordered.Clear();
        foreach (var e in history.Events)
        {
            if (e.OccurredAt <= to)
            {
                ordered.Add(e);
            }
        }

        ordered.Sort(CustomerEvent.CompareByOccurrence);
        var candidate = Replay(plan.Candidate, history.CustomerId, from, to, ObserveCandidate);
        var baseline = plan.Baseline is { } baselineEngine ? Replay(baselineEngine, history.CustomerId, from, to, ObserveBaseline) : null;
        Finish(history.CustomerId, candidate, baseline);
    }

    /// <summary>
    /// The engine's own replay, driven one evaluation at a time so each is observed: every instant that falls due
    /// before an event, the event at its occurrence time, the instants due before <paramref name="to"/>, then
    /// <paramref name="to"/> itself. Same calls, same order, same outcome as <see cref="SegmentEngine.Replay"/>.
    /// </summary>
    private CustomerState Replay(
        SegmentEngine engine, string customerId, DateTimeOffset from, DateTimeOffset to, Action<EvaluationResult, DateTimeOffset, long> observe)
    {
        var state = new CustomerState { CustomerId = customerId };
        var fromTicks = from.UtcTicks;
        foreach (var e in ordered)
        {
            while (state.NextCheckAt is { } due && due < e.OccurredAt)
            {
                observe(engine.Evaluate(state, due), due, fromTicks);
            }

            observe(engine.Apply(state, e, e.OccurredAt), e.OccurredAt, fromTicks);
        }

        while (state.NextCheckAt is { } due && due < to)
        {
            observe(engine.Evaluate(state, due), due, fromTicks);
        }

        observe(engine.Evaluate(state, to), to, fromTicks);
        return state;
    }

    private void ObserveCandidate(EvaluationResult result, DateTimeOffset at, long fromTicks)
    {
        Tally.Candidate.Evaluations++;
        if (at.UtcTicks < fromTicks)
        {
            return;
        }

        foreach (var change in result.Changes)
        {
            Count(Tally.Candidate, plan.CandidateRules, change);
            if (change.Kind == MembershipChangeKind.Entered && plan.GroupIndexOfSegment.TryGetValue(change.Segment, out var group))
            {
                contacts[group]++;
                Tally.Add(Tally.Groups[group].ContactsPerDay, DayOf(change.At));
            }
        }

        foreach (var blocked in result.Blocked)
        {
            blockedSeen.Add((blocked.Segment, blocked.HeldBy));
        }

        if (plan.ExclusiveGroups.Length > 0 && result.State.Qualifying.Count > 1)
        {
            NoteOverlaps(result.State.Qualifying);
        }
    }

    private void ObserveBaseline(EvaluationResult result, DateTimeOffset at, long fromTicks)
    {
        Tally.Baseline.Evaluations++;
        if (at.UtcTicks < fromTicks)
        {
            return;
        }

        foreach (var change in result.Changes)
        {
            Count(Tally.Baseline, plan.BaselineRules, change);
        }
    }

    private static void Count(RulesetCounts counts, IReadOnlyDictionary<string, SegmentRule> rules, SegmentChange change)
    {
        var segment = counts.Segment(change.Segment);
        var day = DayOf(change.At);
        if (change.Kind == MembershipChangeKind.Exited)
        {
            segment.Exits++;
            Tally.Add(segment.ExitsPerDay, day);
            return;
        }

        segment.Entries++;
        Tally.Add(segment.EntriesPerDay, day);
        if (rules.TryGetValue(change.Segment, out var rule) && rule.Channel is { } channel)
        {
            Tally.Add(Tally.GetOrAdd(counts.MessagesPerChannel, channel, static () => []), day);
        }
    }

    /// <summary>Records every pair of segments of one exclusive group whose conditions hold at the same instant.</summary>
    private void NoteOverlaps(HashSet<string> qualifying)
    {
        foreach (var name in qualifying)
        {
            if (plan.GroupIndexOfSegment.TryGetValue(name, out var group))
            {
                qualifyingByGroup[group].Add(name);
            }
        }

        for (var group = 0; group < qualifyingByGroup.Length; group++)
        {
            var members = qualifyingByGroup[group];
            if (members.Count > 1)
            {
                members.Sort(StringComparer.Ordinal);
                for (var i = 0; i < members.Count; i++)
                {
                    for (var j = i + 1; j < members.Count; j++)
                    {
                        overlapsSeen.Add((group, members[i], members[j]));
                    }
                }
            }

            members.Clear();
        }
    }

    private void Finish(string customerId, CustomerState candidate, CustomerState? baseline)
    {
        Tally.Customers++;
        foreach (var name in candidate.Held.Keys)
        {
            Tally.Candidate.Segment(name).HoldersAtEnd++;
        }

        if (baseline is not null)
        {
            foreach (var name in baseline.Held.Keys)
            {
                Tally.Baseline.Segment(name).HoldersAtEnd++;
                if (!candidate.Held.ContainsKey(name))
                {
                    Tally.Ids(Tally.WouldLeave, name).Add(customerId);
                }
            }

            foreach (var name in candidate.Held.Keys)
            {
                if (!baseline.Held.ContainsKey(name))
                {
                    Tally.Ids(Tally.WouldEnter, name).Add(customerId);
                }
            }
        }

        for (var group = 0; group < contacts.Length; group++)
        {
            Tally.Add(Tally.Groups[group].ContactsPerCustomer, contacts[group]);
            contacts[group] = 0;
        }

        if (blockedSeen.Count > 0)
        {
            CountBlocked();
        }

        foreach (var (group, first, second) in overlapsSeen)
        {
            Tally.Groups[group].Overlap((first, second)).Add(customerId);
        }

        overlapsSeen.Clear();
    }

    private void CountBlocked()
    {
        foreach (var segment in blockedSeen.Select(b => b.Segment).Distinct(StringComparer.Ordinal))
        {
            Tally.BlockedOf(segment).Customers++;
        }

        foreach (var (segment, heldBy) in blockedSeen)
        {
            var counts = Tally.BlockedOf(segment);
            if (heldBy is null)
            {
                counts.Cooldown++;
            }
            else
            {
                Tally.Add(counts.HeldBy, heldBy);
            }
        }

        blockedSeen.Clear();
    }

    private static DateOnly DayOf(DateTimeOffset at) => DateOnly.FromDateTime(at.UtcDateTime);
}
