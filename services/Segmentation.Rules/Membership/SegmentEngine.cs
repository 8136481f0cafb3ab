using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Membership;

/// <summary>
/// Decides segment membership for one customer at a time. Pure: the caller passes the state, the event and the clock
/// reading. Thread-safe: one engine can serve concurrent customers. The state passed in is updated in place.
/// </summary>
public sealed class SegmentEngine
{
    private readonly bool incremental;
    private readonly bool boundedState;
    private readonly RetentionPlan retention;
    private readonly CompiledSegment[] segments;
    private readonly CompiledGroup[] groups;
    private readonly Dictionary<string, CompiledSegment> segmentsByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CompiledSegment[]> segmentsByEventType;
    private readonly Dictionary<string, CompiledSegment[]> segmentsByAttribute;
    private readonly ThreadLocal<EngineScratch> scratch;

    /// <param name="ruleset">A loaded, type-checked ruleset.</param>
    /// <param name="incremental">
    /// When false every segment is re-evaluated at every evaluation; the outcome is identical, only slower. Used to measure
    /// what the dependency index saves.
    /// </param>
    /// <param name="boundedState">
    /// When true (the default) a new customer's state keeps only what the ruleset reads (<see cref="RetentionSpec"/>); when
    /// false it keeps every event. The outcome is identical; used to check exactly that.
    /// </param>
    public SegmentEngine(Ruleset ruleset, bool incremental = true, bool boundedState = true)
    {
        Ruleset = ruleset;
        this.incremental = incremental;
        this.boundedState = boundedState;
        retention = new RetentionPlan(ruleset);
        var compiler = new ExpressionCompiler(ruleset.Attributes);
        var exclusiveGroups = new Dictionary<string, CompiledGroup>(StringComparer.Ordinal);
        segments = new CompiledSegment[ruleset.Segments.Count];
        for (var i = 0; i < segments.Length; i++)
        {
            var rule = ruleset.Segments[i];
            CompiledGroup? group = null;
            if (rule.Group is { } groupName && ruleset.Groups[groupName] is { Exclusive: true } definition)
            {
                if (!exclusiveGroups.TryGetValue(groupName, out group))
                {
                    group = new CompiledGroup(definition, exclusiveGroups.Count);
                    exclusiveGroups.Add(groupName, group);
                }
            }

            var segment = new CompiledSegment(rule, i, group, compiler.Compile(rule.Condition));
            group?.Members.Add(segment);
            segments[i] = segment;
            segmentsByName.Add(rule.Name, segment);
        }

        groups = [.. exclusiveGroups.Values];
        foreach (var group in groups)
        {
            group.Members.Sort((a, b) =>
            {
                var byPriority = b.Rule.Priority.CompareTo(a.Rule.Priority);
                return byPriority != 0 ? byPriority : string.CompareOrdinal(a.Rule.Name, b.Rule.Name);
            });
            group.MembersByName = [.. group.Members.OrderBy(member => member.Rule.Name, StringComparer.Ordinal)];
        }

        segmentsByEventType = Index(segment => segment.Rule.Condition.ReadEventTypes());
        segmentsByAttribute = Index(segment => segment.Rule.Condition.ReadAttributes(ruleset.Attributes));
        scratch = new ThreadLocal<EngineScratch>(() => new EngineScratch(segments.Length, groups.Length));
    }

    public Ruleset Ruleset { get; }

    /// <summary>
    /// True when <paramref name="state"/> keeps at least what this ruleset reads (or keeps everything). A state that keeps
    /// less, built under a ruleset that read less, must be rebuilt from the customer's events (<see cref="Rebuild"/>) before
    /// this engine evaluates it; the engine refuses it rather than answer from missing events.
    /// </summary>
    public bool Covers(CustomerState state) => state.Retention is not { } kept || kept.Covers(retention.Spec);

    /// <summary>
    /// <paramref name="current"/> folded anew from the customer's whole history (every recorded event, in any order),
    /// keeping what this ruleset reads; memberships, cooldowns, caches and evaluation time carry over.
    /// </summary>
    public CustomerState Rebuild(CustomerState current, IEnumerable<CustomerEvent> history) => current.Refold(history, retention);

    private Dictionary<string, CompiledSegment[]> Index(Func<CompiledSegment, IEnumerable<string>> keys) =>
        segments
            .SelectMany(segment => keys(segment).Distinct().Select(key => (key, segment)))
            .GroupBy(pair => pair.key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(pair => pair.segment).ToArray(), StringComparer.Ordinal);

    /// <summary>
    /// Records a new event and evaluates at <paramref name="now"/>, first catching up on every instant that fell due since
    /// the last evaluation. An event dated after <paramref name="now"/> waits until the clock reaches it. A repeated event
    /// (same type, time and id) changes nothing.
    /// </summary>
    public EvaluationResult Apply(CustomerState state, CustomerEvent newEvent, DateTimeOffset now)
    {
        Adopt(state);
        var work = scratch.Value!;
        var index = IndexFor(state);
        var changes = new List<SegmentChange>();
        CatchUp(state, now.UtcTicks, work, index, changes);
        work.Begin();
        if (newEvent.OccurredAt.UtcTicks > now.UtcTicks)
        {
            if (!state.Pending.Exists(p => p.EventId == newEvent.EventId))
            {
                state.Pending.Add(newEvent);
            }
        }
        else
        {
            Record(state, newEvent, work);
        }

        EvaluateAt(state, now.UtcTicks, work, index, changes);
        return Result(state, index, changes);
    }

    /// <summary>Evaluates with no new event, as a timer would at <see cref="CustomerState.NextCheckAt"/>.</summary>
    public EvaluationResult Evaluate(CustomerState state, DateTimeOffset now)
    {
        Adopt(state);
        var work = scratch.Value!;
        var index = IndexFor(state);
        var changes = new List<SegmentChange>();
        CatchUp(state, now.UtcTicks, work, index, changes);
        work.Begin();
        EvaluateAt(state, now.UtcTicks, work, index, changes);
        return Result(state, index, changes);
    }

    /// <summary>
    /// Puts a state under this ruleset's retention: a new customer's from the start, one that keeps every event by folding
    /// its own history, one kept for a wider ruleset by narrowing it (its surplus is dropped as it expires); a state that
    /// keeps less is refused.
    /// </summary>
    private void Adopt(CustomerState state)
    {
        if (state.Retention is null)
        {
            if (boundedState)
            {
                state.FoldAnew([.. state.EventsByType.Values.SelectMany(events => events), .. state.Pending], retention);
            }

            return;
        }

        if (ReferenceEquals(state.Retention, retention.Spec))
        {
            return;
        }

        // The same spec read back from a stored state: nothing to narrow.
        if (retention.Spec.Covers(state.Retention) && state.Retention.Covers(retention.Spec))
        {
            state.Retention = retention.Spec;
            return;
        }

        RequireCovered(state);
        foreach (var key in state.Running.Keys.Where(key => !retention.Spec.Tracks(key)).ToList())
        {
            state.Running.Remove(key);
        }

        state.Retention = retention.Spec;
        if (state.EvaluatedAt is { } evaluatedAt)
        {
            state.Forget(evaluatedAt);
        }
    }

    private void RequireCovered(CustomerState state)
    {
        if (!Covers(state))
        {
            throw new InvalidOperationException(
                $"customer {state.CustomerId}: the state keeps less of the history than ruleset {Ruleset.Fingerprint} reads; rebuild it from the customer's events first");
        }
    }

    private EvaluationResult Result(CustomerState state, EngineIndex index, List<SegmentChange> changes)
    {
        var blocked = Blocked(state, index);
        index.Stamp(state);
        return new EvaluationResult(state, changes, blocked, state.NextCheckAt);
    }

    /// <summary>
    /// Replays a history from scratch: evaluates at each event in occurrence order and at every instant that falls due in
    /// between, up to <paramref name="at"/>. Events after <paramref name="at"/> are ignored.
    /// </summary>
    public EvaluationResult Replay(string customerId, IEnumerable<CustomerEvent> events, DateTimeOffset at)
    {
        var state = new CustomerState { CustomerId = customerId };
        var changes = new List<SegmentChange>();
        var ordered = events.Where(e => e.OccurredAt <= at).ToList();
        ordered.Sort(CustomerEvent.CompareByOccurrence);
        foreach (var e in ordered)
        {
            changes.AddRange(Apply(state, e, e.OccurredAt).Changes);
        }

        var final = Evaluate(state, at);
        changes.AddRange(final.Changes);
        return final with { Changes = changes };
    }

    /// <summary>Segments whose condition holds but which do not hold their exclusive group's slot, sorted by name.</summary>
    public IReadOnlyList<BlockedSegment> Blocked(CustomerState state)
    {
        var index = IndexFor(state);
        var blocked = Blocked(state, index);
        index.Stamp(state);
        return blocked;
    }

    /// <summary>
    /// The blocked list, rebuilt only for the groups whose members' qualification, holder or cooldown changed since it was
    /// last built; unchanged, the previous (read-only) list is returned as it is.
    /// </summary>
    private static IReadOnlyList<BlockedSegment> Blocked(CustomerState state, EngineIndex index)
    {
        if (index.AllBlocked is { } cached)
        {
            return cached;
        }

        BlockedSegment[]? only = null;
        List<BlockedSegment>? several = null;
        foreach (var group in index.Owner.groups)
        {
            var blocked = index.GroupBlocked[group.Index] ??= BlockedIn(group, state, index);
            if (blocked.Length == 0)
            {
                continue;
            }

            if (only is null)
            {
                only = blocked;
            }
            else
            {
                several ??= [.. only];
                several.AddRange(blocked);
            }
        }

        IReadOnlyList<BlockedSegment> all;
        if (several is not null)
        {
            several.Sort((a, b) => string.CompareOrdinal(a.Segment, b.Segment));
            all = several.AsReadOnly();
        }
        else
        {
            all = only is null ? [] : Array.AsReadOnly(only);
        }

        index.AllBlocked = all;
        return all;
    }

    /// <summary>The qualifying members of one group that do not hold it, by name, all with the group's one reason.</summary>
    private static BlockedSegment[] BlockedIn(CompiledGroup group, CustomerState state, EngineIndex index)
    {
        var groupName = group.Definition.Name;
        var holder = index.HolderOf(group);
        string reason;
        DateTimeOffset? cooldownUntil = null;
        if (holder is not null)
        {
            reason = $"held by {holder.Rule.Name}";
        }
        else if (state.CooldownWaits.TryGetValue(groupName, out var until))
        {
            reason = $"cooldown until {Value.FormatTimestamp(until)}";
            cooldownUntil = until;
        }
        else
        {
            return [];
        }

        List<BlockedSegment>? blocked = null;
        foreach (var member in group.MembersByName)
        {
            var name = member.Rule.Name;
            if (state.Qualifying.Contains(name) && !state.Held.ContainsKey(name))
            {
                (blocked ??= []).Add(new BlockedSegment(name, groupName, reason, holder?.Rule.Name, cooldownUntil));
            }
        }

        return blocked is null ? [] : [.. blocked];
    }

    /// <summary>The value of every sub-expression of a segment's condition at <paramref name="now"/>, and the outcome.</summary>
    public SegmentExplanation Explain(CustomerState state, string segmentName, DateTimeOffset now)
    {
        if (!segmentsByName.TryGetValue(segmentName, out var segment))
        {
            throw new ArgumentException($"unknown segment `{segmentName}`", nameof(segmentName));
        }

        RequireCovered(state);
        var context = new EvaluationContext();
        context.Start(state, now.UtcTicks);
        var condition = Explain(segment.Rule, segment.Condition, context);
        var holds = condition.Value == "true";
        var blocked = Blocked(state).FirstOrDefault(b => b.Segment == segmentName);
        var outcome = state.Held.TryGetValue(segmentName, out var since) ? $"in (since {Value.FormatTimestamp(since)})"
            : blocked is not null ? $"blocked: {blocked.Reason}"
            : holds ? "qualifies (not yet evaluated at this time)"
            : "out";
        return new SegmentExplanation(segmentName, segment.Rule.Group, holds, outcome, condition);
    }

    /// <summary>
    /// Whether the segment's condition holds on the state at <paramref name="now"/>: <see cref="Explain"/>'s
    /// <see cref="SegmentExplanation.ConditionHolds"/> without the explanation and the blocked list, for callers that ask
    /// it of many states.
    /// </summary>
    internal bool ConditionHolds(CustomerState state, string segmentName, DateTimeOffset now)
    {
        RequireCovered(state);
        var context = new EvaluationContext();
        context.Start(state, now.UtcTicks);
        return segmentsByName[segmentName].Condition.Evaluate(context).AsBool;
    }

    private static ExplainedExpression Explain(SegmentRule rule, CompiledNode node, EvaluationContext context) =>
        new(
            rule.TextOf(node.Node),
            node.Evaluate(context).ToString(),
            [.. node.Children.Where(child => !IsLiteral(child.Node)).Select(child => Explain(rule, child, context))]);

    private static bool IsLiteral(Expr node) =>
        node is NumberLiteral or StringLiteral or BoolLiteral or DurationLiteral or TimestampLiteral;

    private void CatchUp(CustomerState state, long now, EngineScratch work, EngineIndex index, List<SegmentChange> changes)
    {
        if (state.RulesetFingerprint != Ruleset.Fingerprint)
        {
            return;
        }

        while (state.NextCheckAt is { } due && due.UtcTicks < now)
        {
            work.Begin();
            EvaluateAt(state, due.UtcTicks, work, index, changes);
        }
    }

    /// <summary>
    /// Adds the event to the history (one implementation, <see cref="CustomerState.Record(CustomerEvent, ICollection{string}?)"/>)
    /// and its running totals, and notes what it touched.
    /// </summary>
    private void Record(CustomerState state, CustomerEvent e, EngineScratch work)
    {
        if (state.Record(e, work.TouchedAttributes, state.Retention))
        {
            work.TouchedEventTypes.Add(e.Type);
            if (state.Retention is not null)
            {
                retention.Count(state, e, work.Context);
            }
        }
    }

    private void EvaluateAt(CustomerState state, long now, EngineScratch work, EngineIndex index, List<SegmentChange> changes)
    {
        var at = new DateTimeOffset(now, TimeSpan.Zero);
        var everything = !incremental || state.RulesetFingerprint != Ruleset.Fingerprint;
        if (state.RulesetFingerprint != Ruleset.Fingerprint)
        {
            StartOver(state, at, changes);
            index.Rebuild(state);
        }

        RecordDuePending(state, now, work);

        // Segments whose next-change instant has come, earliest first, without looking at the others.
        while (index.Due.TryPeek(out var dueSegment, out var dueTicks) && dueTicks <= now)
        {
            index.Due.Dequeue();
            if (index.IsCurrent(state, dueSegment, dueTicks))
            {
                work.MarkSegment(segments[dueSegment]);
            }
        }

        if (everything)
        {
            foreach (var segment in segments)
            {
                work.MarkSegment(segment);
            }
        }
        else
        {
            foreach (var type in work.TouchedEventTypes)
            {
                MarkAll(segmentsByEventType, type, work);
            }

            foreach (var attribute in work.TouchedAttributes)
            {
                MarkAll(segmentsByAttribute, attribute, work);
            }
        }

        // Definition order, so changes at one instant come out in the same order whatever marked the segments.
        work.DirtySegments.Sort((a, b) => a.Index.CompareTo(b.Index));
        var context = work.Context;
        context.Start(state, now);
        foreach (var segment in work.DirtySegments)
        {
            context.ResetNextChange();
            var holds = segment.Evaluate(context).AsBool;
            var name = segment.Rule.Name;
            var qualificationChanged = holds ? state.Qualifying.Add(name) : state.Qualifying.Remove(name);
            if (context.NextChange == long.MaxValue)
            {
                state.RecheckAt.Remove(name);
            }
            else
            {
                ref var recheck = ref CollectionsMarshal.GetValueRefOrAddDefault(state.RecheckAt, name, out var existed);
                if (!existed || recheck.UtcTicks != context.NextChange)
                {
                    index.Due.Enqueue(segment.Index, context.NextChange);
                }

                recheck = new DateTimeOffset(context.NextChange, TimeSpan.Zero);
            }

            if (segment.Group is { } group)
            {
                if (qualificationChanged)
                {
                    index.BlockedChanged(group);
                }

                work.MarkGroup(group);
            }
            else if (holds && !state.Held.ContainsKey(name))
            {
                state.Held[name] = at;
                changes.Add(new SegmentChange(name, MembershipChangeKind.Entered, at, segment.Rule.Group));
            }
            else if (!holds && state.Held.Remove(name))
            {
                changes.Add(new SegmentChange(name, MembershipChangeKind.Exited, at, segment.Rule.Group));
            }
        }

        foreach (var group in groups)
        {
            if (state.CooldownWaits.TryGetValue(group.Definition.Name, out var waitUntil) && waitUntil.UtcTicks <= now)
            {
                work.MarkGroup(group);
            }
        }

        foreach (var group in work.DirtyGroups)
        {
            Settle(group, state, at, index, changes);
        }

        state.EvaluatedAt = at;
        state.NextCheckAt = NextCheck(state, index);
        state.Forget(at, work.TouchedEventTypes);
    }

    /// <summary>The ruleset changed (or this is a new customer): drop caches and leave segments that no longer exist.</summary>
    private void StartOver(CustomerState state, DateTimeOffset at, List<SegmentChange> changes)
    {
        state.Qualifying.Clear();
        state.RecheckAt.Clear();
        state.CooldownWaits.Clear();
        foreach (var name in state.Held.Keys.Where(name => !segmentsByName.ContainsKey(name)).Order(StringComparer.Ordinal).ToList())
        {
            state.Held.Remove(name);
            changes.Add(new SegmentChange(name, MembershipChangeKind.Exited, at, null));
        }

        state.RulesetFingerprint = Ruleset.Fingerprint;
    }

    private void RecordDuePending(CustomerState state, long now, EngineScratch work)
    {
        if (state.Pending.Count == 0)
        {
            return;
        }

        var due = state.Pending.Where(p => p.OccurredAt.UtcTicks <= now).ToList();
        foreach (var e in due)
        {
            state.Pending.Remove(e);
            Record(state, e, work);
        }
    }

    private static void MarkAll(Dictionary<string, CompiledSegment[]> index, string key, EngineScratch work)
    {
        if (index.TryGetValue(key, out var affected))
        {
            foreach (var segment in affected)
            {
                work.MarkSegment(segment);
            }
        }
    }

    /// <summary>
    /// Exclusive group rule: a held segment whose condition fails is exited; then, with the slot free and the cooldown over,
    /// the qualifying segment of highest priority (then name) enters. A held segment is never pre-empted.
    /// </summary>
    private static void Settle(CompiledGroup group, CustomerState state, DateTimeOffset at, EngineIndex index, List<SegmentChange> changes)
    {
        var groupName = group.Definition.Name;
        var waited = state.CooldownWaits.Remove(groupName, out var waitedUntil);
        var holder = index.HolderOf(group);
        var exited = false;
        if (holder is not null && !state.Qualifying.Contains(holder.Rule.Name))
        {
            state.Held.Remove(holder.Rule.Name);
            changes.Add(new SegmentChange(holder.Rule.Name, MembershipChangeKind.Exited, at, groupName));
            holder = null;
            exited = true;
        }

        var entered = holder is null && Enter(group, state, at, changes);
        if (exited || entered)
        {
            index.HolderChanged(group, state);
        }

        var waits = state.CooldownWaits.TryGetValue(groupName, out var waitsUntil);
        if (exited || entered || waited != waits || waitedUntil != waitsUntil)
        {
            index.BlockedChanged(group);
        }
    }

    /// <summary>With the slot free: the first qualifying member enters, or waits for the cooldown. True when one entered.</summary>
    private static bool Enter(CompiledGroup group, CustomerState state, DateTimeOffset at, List<SegmentChange> changes)
    {
        var groupName = group.Definition.Name;
        CompiledSegment? winner = null;
        foreach (var member in group.Members)
        {
            if (state.Qualifying.Contains(member.Rule.Name))
            {
                winner = member;
                break;
            }
        }

        if (winner is null)
        {
            return false;
        }

        if (state.LastGroupEntry.TryGetValue(groupName, out var lastEntry) && lastEntry + group.Definition.Cooldown > at)
        {
            state.CooldownWaits[groupName] = lastEntry + group.Definition.Cooldown;
            return false;
        }

        state.Held[winner.Rule.Name] = at;
        state.LastGroupEntry[groupName] = at;
        changes.Add(new SegmentChange(winner.Rule.Name, MembershipChangeKind.Entered, at, groupName));
        return true;
    }

    private static CompiledSegment? ScanHolder(CompiledGroup group, CustomerState state)
    {
        foreach (var member in group.Members)
        {
            if (state.Held.ContainsKey(member.Rule.Name))
            {
                return member;
            }
        }

        return null;
    }

    /// <summary>Earliest of the segments' next-change instants (the due index's first current entry), cooldown ends and pending events.</summary>
    private static DateTimeOffset? NextCheck(CustomerState state, EngineIndex index)
    {
        var next = index.FirstDue(state);
        foreach (var due in state.CooldownWaits.Values)
        {
            next = Math.Min(next, due.UtcTicks);
        }

        foreach (var pending in state.Pending)
        {
            next = Math.Min(next, pending.OccurredAt.UtcTicks);
        }

        return next == long.MaxValue ? null : new DateTimeOffset(next, TimeSpan.Zero);
    }

    private EngineIndex IndexFor(CustomerState state)
    {
        if (state.EngineIndex is { } existing && existing.Owner == this && existing.Matches(state))
        {
            return existing;
        }

        var index = new EngineIndex(this);
        index.Rebuild(state);
        state.EngineIndex = index;
        return index;
    }

    /// <summary>
    /// What an engine keeps beside one customer's persisted state so an evaluation costs what it touches, not the ruleset's
    /// size: a heap of (segment, next-change instant) for <see cref="CustomerState.RecheckAt"/>, each group's holder, and
    /// the blocked lists per group. Derived only: rebuilt from the state's public properties whenever it is missing, was
    /// built by another engine, or its stamp (counts, evaluation time, next check, fingerprint) shows that the state was
    /// changed by someone else since this engine last touched it.
    /// </summary>
    internal sealed class EngineIndex
    {
        private readonly CompiledSegment?[] holders;
        private int recheckCount = -1;
        private int qualifyingCount;
        private int cooldownCount;
        private int heldCount;
        private DateTimeOffset? evaluatedAt;
        private DateTimeOffset? nextCheckAt;
        private string? fingerprint;

        public EngineIndex(SegmentEngine owner)
        {
            Owner = owner;
            holders = new CompiledSegment?[owner.groups.Length];
            GroupBlocked = new BlockedSegment[]?[owner.groups.Length];
        }

        public SegmentEngine Owner { get; }

        /// <summary>
        /// Segment index by next-change ticks. Every <see cref="CustomerState.RecheckAt"/> entry has a matching heap entry;
        /// entries left behind by a later change are skipped (<see cref="IsCurrent"/>) and dropped when they surface.
        /// </summary>
        public PriorityQueue<int, long> Due { get; } = new();

        /// <summary>Blocked members of each group by name; null when they must be listed again.</summary>
        public BlockedSegment[]?[] GroupBlocked { get; }

        /// <summary>All blocked segments by name; null when some group's list changed.</summary>
        public IReadOnlyList<BlockedSegment>? AllBlocked { get; set; }

        public CompiledSegment? HolderOf(CompiledGroup group) => holders[group.Index];

        public void HolderChanged(CompiledGroup group, CustomerState state) => holders[group.Index] = ScanHolder(group, state);

        public void BlockedChanged(CompiledGroup group)
        {
            GroupBlocked[group.Index] = null;
            AllBlocked = null;
        }

        public bool IsCurrent(CustomerState state, int segment, long ticks) =>
            state.RecheckAt.TryGetValue(Owner.segments[segment].Rule.Name, out var due) && due.UtcTicks == ticks;

        /// <summary>The earliest next-change instant in <see cref="CustomerState.RecheckAt"/>, or long.MaxValue.</summary>
        public long FirstDue(CustomerState state)
        {
            while (Due.TryPeek(out var segment, out var ticks))
            {
                if (IsCurrent(state, segment, ticks))
                {
                    // Superseded entries that are not yet at the top: rebuild once they outnumber the current ones.
                    if (Due.Count > (2 * state.RecheckAt.Count) + 64)
                    {
                        RebuildDue(state);
                        Due.TryPeek(out _, out ticks);
                    }

                    return ticks;
                }

                Due.Dequeue();
            }

            return long.MaxValue;
        }

        public void Rebuild(CustomerState state)
        {
            RebuildDue(state);
            foreach (var group in Owner.groups)
            {
                holders[group.Index] = ScanHolder(group, state);
                GroupBlocked[group.Index] = null;
            }

            AllBlocked = null;
        }

        private void RebuildDue(CustomerState state)
        {
            Due.Clear();
            foreach (var (name, due) in state.RecheckAt)
            {
                if (Owner.segmentsByName.TryGetValue(name, out var segment))
                {
                    Due.Enqueue(segment.Index, due.UtcTicks);
                }
            }
        }

        /// <summary>Remembers what the state looked like when the engine left it.</summary>
        public void Stamp(CustomerState state)
        {
            recheckCount = state.RecheckAt.Count;
            qualifyingCount = state.Qualifying.Count;
            cooldownCount = state.CooldownWaits.Count;
            heldCount = state.Held.Count;
            evaluatedAt = state.EvaluatedAt;
            nextCheckAt = state.NextCheckAt;
            fingerprint = state.RulesetFingerprint;
        }

        public bool Matches(CustomerState state) =>
            recheckCount == state.RecheckAt.Count
            && qualifyingCount == state.Qualifying.Count
            && cooldownCount == state.CooldownWaits.Count
            && heldCount == state.Held.Count
            && evaluatedAt == state.EvaluatedAt
            && nextCheckAt == state.NextCheckAt
            && string.Equals(fingerprint, state.RulesetFingerprint, StringComparison.Ordinal);
    }

    internal sealed class CompiledSegment(SegmentRule rule, int index, CompiledGroup? group, CompiledNode condition)
    {
        public SegmentRule Rule { get; } = rule;

        public int Index { get; } = index;

        public CompiledGroup? Group { get; } = group;

        public CompiledNode Condition { get; } = condition;

        public Evaluator Evaluate { get; } = condition.Evaluate;
    }

    internal sealed class CompiledGroup(SegmentGroup definition, int index)
    {
        public SegmentGroup Definition { get; } = definition;

        public int Index { get; } = index;

        /// <summary>Members by priority (highest first), then name.</summary>
        public List<CompiledSegment> Members { get; } = [];

        /// <summary>Members by name (ordinal), the order of the blocked list.</summary>
        public CompiledSegment[] MembersByName { get; set; } = [];
    }

    /// <summary>Reusable per-thread buffers so an evaluation marks dirty segments and groups without allocating.</summary>
    private sealed class EngineScratch(int segmentCount, int groupCount)
    {
        private readonly int[] segmentMarks = new int[segmentCount];
        private readonly int[] groupMarks = new int[groupCount];
        private int generation;

        public EvaluationContext Context { get; } = new();

        public List<CompiledSegment> DirtySegments { get; } = [];

        public List<CompiledGroup> DirtyGroups { get; } = [];

        public List<string> TouchedEventTypes { get; } = [];

        public List<string> TouchedAttributes { get; } = [];

        public void Begin()
        {
            generation++;
            DirtySegments.Clear();
            DirtyGroups.Clear();
            TouchedEventTypes.Clear();
            TouchedAttributes.Clear();
        }

        public void MarkSegment(CompiledSegment segment)
        {
            if (segmentMarks[segment.Index] != generation)
            {
                segmentMarks[segment.Index] = generation;
                DirtySegments.Add(segment);
            }
        }

        public void MarkGroup(CompiledGroup group)
        {
            if (groupMarks[group.Index] != generation)
            {
                groupMarks[group.Index] = generation;
                DirtyGroups.Add(group);
            }
        }
    }
}
