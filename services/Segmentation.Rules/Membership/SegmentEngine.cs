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
    public SegmentEngine(Ruleset ruleset, bool incremental = true)
    {
        Ruleset = ruleset;
        this.incremental = incremental;
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
        }

        segmentsByEventType = Index(segment => segment.Rule.Condition.ReadEventTypes());
        segmentsByAttribute = Index(segment => segment.Rule.Condition.ReadAttributes(ruleset.Attributes));
        scratch = new ThreadLocal<EngineScratch>(() => new EngineScratch(segments.Length, groups.Length));
    }

    public Ruleset Ruleset { get; }

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
        var work = scratch.Value!;
        var changes = new List<SegmentChange>();
        CatchUp(state, now.UtcTicks, work, changes);
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

        EvaluateAt(state, now.UtcTicks, work, changes);
        return new EvaluationResult(state, changes, Blocked(state), state.NextCheckAt);
    }

    /// <summary>Evaluates with no new event, as a timer would at <see cref="CustomerState.NextCheckAt"/>.</summary>
    public EvaluationResult Evaluate(CustomerState state, DateTimeOffset now)
    {
        var work = scratch.Value!;
        var changes = new List<SegmentChange>();
        CatchUp(state, now.UtcTicks, work, changes);
        work.Begin();
        EvaluateAt(state, now.UtcTicks, work, changes);
        return new EvaluationResult(state, changes, Blocked(state), state.NextCheckAt);
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
        List<BlockedSegment>? blocked = null;
        foreach (var name in state.Qualifying)
        {
            if (!segmentsByName.TryGetValue(name, out var segment) || segment.Group is not { } group || state.Held.ContainsKey(name))
            {
                continue;
            }

            var holder = HolderOf(group, state);
            var groupName = group.Definition.Name;
            BlockedSegment? entry = holder is not null
                ? new BlockedSegment(name, groupName, $"held by {holder.Rule.Name}", holder.Rule.Name, null)
                : state.CooldownWaits.TryGetValue(groupName, out var until)
                    ? new BlockedSegment(name, groupName, $"cooldown until {Value.FormatTimestamp(until)}", null, until)
                    : null;
            if (entry is not null)
            {
                (blocked ??= []).Add(entry);
            }
        }

        if (blocked is null)
        {
            return [];
        }

        blocked.Sort((a, b) => string.CompareOrdinal(a.Segment, b.Segment));
        return blocked;
    }

    /// <summary>The value of every sub-expression of a segment's condition at <paramref name="now"/>, and the outcome.</summary>
    public SegmentExplanation Explain(CustomerState state, string segmentName, DateTimeOffset now)
    {
        if (!segmentsByName.TryGetValue(segmentName, out var segment))
        {
            throw new ArgumentException($"unknown segment `{segmentName}`", nameof(segmentName));
        }

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

    private static ExplainedExpression Explain(SegmentRule rule, CompiledNode node, EvaluationContext context) =>
        new(
            rule.TextOf(node.Node),
            node.Evaluate(context).ToString(),
            [.. node.Children.Where(child => !IsLiteral(child.Node)).Select(child => Explain(rule, child, context))]);

    private static bool IsLiteral(Expr node) =>
        node is NumberLiteral or StringLiteral or BoolLiteral or DurationLiteral or TimestampLiteral;

    private void CatchUp(CustomerState state, long now, EngineScratch work, List<SegmentChange> changes)
    {
        if (state.RulesetFingerprint != Ruleset.Fingerprint)
        {
            return;
        }

        while (state.NextCheckAt is { } due && due.UtcTicks < now)
        {
            work.Begin();
            EvaluateAt(state, due.UtcTicks, work, changes);
        }
    }

    private static bool Record(CustomerState state, CustomerEvent e, EngineScratch work)
    {
        if (!state.EventsByType.TryGetValue(e.Type, out var list))
        {
            list = [];
            state.EventsByType.Add(e.Type, list);
        }

        var position = list.BinarySearch(e, Comparer<CustomerEvent>.Create(CustomerEvent.CompareByOccurrence));
        if (position >= 0)
        {
            return false;
        }

        list.Insert(~position, e);
        work.TouchedEventTypes.Add(e.Type);
        if (e.Type == Ruleset.ProfileUpdated)
        {
            foreach (var (name, value) in e.Properties)
            {
                if (state.Attributes.TryGetValue(name, out var current) && !IsLater(e, current))
                {
                    continue;
                }

                state.Attributes[name] = new AttributeValue(value, e.OccurredAt, e.EventId);
                if (current is null || current.Value != value)
                {
                    work.TouchedAttributes.Add(name);
                }
            }
        }

        return true;
    }

    private static bool IsLater(CustomerEvent e, AttributeValue current)
    {
        var byTime = e.OccurredAt.UtcTicks.CompareTo(current.OccurredAt.UtcTicks);
        return byTime > 0 || (byTime == 0 && string.CompareOrdinal(e.EventId, current.EventId) > 0);
    }

    private void EvaluateAt(CustomerState state, long now, EngineScratch work, List<SegmentChange> changes)
    {
        var at = new DateTimeOffset(now, TimeSpan.Zero);
        var everything = !incremental || state.RulesetFingerprint != Ruleset.Fingerprint;
        if (state.RulesetFingerprint != Ruleset.Fingerprint)
        {
            StartOver(state, at, changes);
        }

        RecordDuePending(state, now, work);

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

            foreach (var (name, due) in state.RecheckAt)
            {
                if (due.UtcTicks <= now)
                {
                    work.MarkSegment(segmentsByName[name]);
                }
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
            if (holds)
            {
                state.Qualifying.Add(name);
            }
            else
            {
                state.Qualifying.Remove(name);
            }

            if (context.NextChange == long.MaxValue)
            {
                state.RecheckAt.Remove(name);
            }
            else
            {
                state.RecheckAt[name] = new DateTimeOffset(context.NextChange, TimeSpan.Zero);
            }

            if (segment.Group is { } group)
            {
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
            Settle(group, state, at, changes);
        }

        state.EvaluatedAt = at;
        state.NextCheckAt = NextCheck(state);
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

    private static void RecordDuePending(CustomerState state, long now, EngineScratch work)
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
    private static void Settle(CompiledGroup group, CustomerState state, DateTimeOffset at, List<SegmentChange> changes)
    {
        var groupName = group.Definition.Name;
        var holder = HolderOf(group, state);
        if (holder is not null && !state.Qualifying.Contains(holder.Rule.Name))
        {
            state.Held.Remove(holder.Rule.Name);
            changes.Add(new SegmentChange(holder.Rule.Name, MembershipChangeKind.Exited, at, groupName));
            holder = null;
        }

        state.CooldownWaits.Remove(groupName);
        if (holder is not null)
        {
            return;
        }

        var winner = group.Members.Find(member => state.Qualifying.Contains(member.Rule.Name));
        if (winner is null)
        {
            return;
        }

        if (state.LastGroupEntry.TryGetValue(groupName, out var lastEntry) && lastEntry + group.Definition.Cooldown > at)
        {
            state.CooldownWaits[groupName] = lastEntry + group.Definition.Cooldown;
            return;
        }

        state.Held[winner.Rule.Name] = at;
        state.LastGroupEntry[groupName] = at;
        changes.Add(new SegmentChange(winner.Rule.Name, MembershipChangeKind.Entered, at, groupName));
    }

    private static CompiledSegment? HolderOf(CompiledGroup group, CustomerState state) =>
        group.Members.Find(member => state.Held.ContainsKey(member.Rule.Name));

    private static DateTimeOffset? NextCheck(CustomerState state)
    {
        var next = long.MaxValue;
        foreach (var due in state.RecheckAt.Values)
        {
            next = Math.Min(next, due.UtcTicks);
        }

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

        public List<CompiledSegment> Members { get; } = [];
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
