using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Membership;

/// <summary>The latest value of one attribute and the event that set it.</summary>
public sealed record AttributeValue(Value Value, DateTimeOffset OccurredAt, string EventId);

/// <summary>
/// Everything the engine knows about one customer: the event history, the derived attributes, the memberships and the
/// engine's cached condition results. Plain public properties and collections so it serialises with System.Text.Json.
/// The engine updates an instance in place; load a fresh copy per unit of work.
/// </summary>
public sealed class CustomerState
{
    public string CustomerId { get; init; } = string.Empty;

    /// <summary>Events applied so far, per type, each list in occurrence order (time, then event id ordinal).</summary>
    public Dictionary<string, List<CustomerEvent>> EventsByType { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Latest value of each ProfileUpdated property by occurrence time; at equal times the larger event id (ordinal) wins.
    /// </summary>
    public Dictionary<string, AttributeValue> Attributes { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Events that arrived with an occurrence time after the evaluation time; applied once the clock reaches them.</summary>
    public List<CustomerEvent> Pending { get; init; } = [];

    /// <summary>Segments held now, with the instant each was entered.</summary>
    public Dictionary<string, DateTimeOffset> Held { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Last entry into each exclusive group, for the cooldown.</summary>
    public Dictionary<string, DateTimeOffset> LastGroupEntry { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Cache: segments whose condition was true at the last evaluation.</summary>
    public HashSet<string> Qualifying { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Cache: the instant at which a segment's condition may change without a new event.</summary>
    public Dictionary<string, DateTimeOffset> RecheckAt { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Exclusive groups waiting for a cooldown to end while a segment qualifies, with the end of the cooldown.</summary>
    public Dictionary<string, DateTimeOffset> CooldownWaits { get; init; } = new(StringComparer.Ordinal);

    /// <summary>
    /// What this state keeps of the customer's history (set by the engine that first evaluates it); null for a state that
    /// keeps every event, as one built by <see cref="Record(CustomerEvent, ICollection{string}?)"/> alone does.
    /// </summary>
    public RetentionSpec? Retention { get; set; }

    /// <summary>All-time aggregates kept as running totals under <see cref="Retention"/>, by running key.</summary>
    public Dictionary<string, RunningTotal> Running { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Fingerprint of the ruleset the caches belong to; a different ruleset re-evaluates everything.</summary>
    public string? RulesetFingerprint { get; set; }

    public DateTimeOffset? EvaluatedAt { get; set; }

    /// <summary>Earliest instant at which the outcome may change without a new event; null when nothing is time-dependent.</summary>
    public DateTimeOffset? NextCheckAt { get; set; }

    /// <summary>
    /// Transient index an engine keeps beside the persisted caches (due times, exclusive-group holders, blocked lists).
    /// Never serialised (a non-public field) and never cloned: an engine rebuilds it from the public properties when it
    /// is absent, belongs to another engine, or no longer matches them.
    /// </summary>
    internal SegmentEngine.EngineIndex? EngineIndex;

    /// <summary>
    /// Transient contiguous copies of <see cref="EventsByType"/> per type, for window aggregates (<see cref="EventColumns"/>).
    /// Never serialised (a non-public field) and never cloned; each is rebuilt when absent or no longer matching its list.
    /// </summary>
    internal Dictionary<string, EventColumns>? Columns;

    /// <summary>Whether the history holds an event of this type, occurrence time and id.</summary>
    public bool Holds(CustomerEvent e) => EventsByType.TryGetValue(e.Type, out var list) && list.BinarySearch(e, OccurrenceOrder) >= 0;

    /// <summary>
    /// Adds an event to the history in occurrence order and, for ProfileUpdated, takes its properties as attribute
    /// values where they are the latest. Returns false for an event already recorded (same type, time and id).
    /// Attributes whose value changed are added to <paramref name="changedAttributes"/> when given.
    /// </summary>
    public bool Record(CustomerEvent e, ICollection<string>? changedAttributes = null) => Record(e, changedAttributes, keep: null);

    /// <summary>
    /// <see cref="Record(CustomerEvent, ICollection{string}?)"/> under a retention: the history keeps the event with only
    /// the properties <paramref name="keep"/> lists, and not at all when its type is not kept one by one. A repeat is
    /// recognised only while the earlier copy is still kept; callers that keep less than the whole history deduplicate
    /// before recording.
    /// </summary>
    internal bool Record(CustomerEvent e, ICollection<string>? changedAttributes, RetentionSpec? keep)
    {
        TypeRetention? retained = null;
        if (keep is null || keep.Types.TryGetValue(e.Type, out retained))
        {
            if (!EventsByType.TryGetValue(e.Type, out var list))
            {
                list = [];
                EventsByType.Add(e.Type, list);
            }

            var position = list.BinarySearch(e, OccurrenceOrder);
            if (position >= 0)
            {
                return false;
            }

            var kept = retained is null || e.Properties.Keys.All(retained.Properties.Contains)
                ? e
                : e with { Properties = e.Properties.Where(p => retained.Properties.Contains(p.Key)).ToDictionary(StringComparer.Ordinal) };
            KeepColumns(kept, list, ~position);
            list.Insert(~position, kept);
        }

        if (e.Type == Ruleset.ProfileUpdated)
        {
            foreach (var (name, value) in e.Properties)
            {
                if (Attributes.TryGetValue(name, out var current) && !IsLater(e, current))
                {
                    continue;
                }

                Attributes[name] = new AttributeValue(value, e.OccurredAt, e.EventId);
                if (current is null || current.Value != value)
                {
                    changedAttributes?.Add(name);
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Drops, under <see cref="Retention"/>, the events that can no longer be in any window at <paramref name="at"/> or
    /// later. A few expired events may stay: a type's list is cut once they make up an eighth of it, so the cut (and the
    /// rebuild of its columns) is paid once per many events rather than at every evaluation. With <paramref name="types"/>,
    /// only those types' lists are looked at: a list only grows when its type is recorded, so cutting it then bounds it.
    /// </summary>
    internal void Forget(DateTimeOffset at, IReadOnlyCollection<string>? types = null)
    {
        if (Retention is not { } retention)
        {
            return;
        }

        foreach (var type in types ?? EventsByType.Keys.ToList())
        {
            if (!EventsByType.TryGetValue(type, out var list))
            {
                continue;
            }

            if (!retention.Types.TryGetValue(type, out var kept))
            {
                list.Clear();
                continue;
            }

            if (kept.Window is not { } window || list.Count == 0)
            {
                continue;
            }

            var horizon = at.UtcTicks - window.Ticks;
            var expired = CountAtOrBefore(list, horizon);
            if (expired > 0 && expired >= 8 + (list.Count / 8))
            {
                list.RemoveRange(0, expired);
                Columns?.Remove(type);
            }
        }
    }

    private static int CountAtOrBefore(List<CustomerEvent> list, long ticks)
    {
        var (low, high) = (0, list.Count);
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (list[middle].OccurredAt.UtcTicks <= ticks)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>
    /// This state with its history folded anew from <paramref name="history"/> (every event the customer has recorded, in
    /// any order), keeping everything: memberships, cooldowns, caches and evaluation time stay as they are. Events dated
    /// after the last evaluation wait in <see cref="Pending"/>, as they did when they arrived.
    /// </summary>
    public CustomerState Refold(IEnumerable<CustomerEvent> history) => Refold(history, plan: null);

    /// <summary><see cref="Refold(IEnumerable{CustomerEvent})"/> keeping only what <paramref name="plan"/> reads (everything without one).</summary>
    internal CustomerState Refold(IEnumerable<CustomerEvent> history, RetentionPlan? plan)
    {
        var state = Clone();
        state.FoldAnew(history, plan);
        return state;
    }

    /// <summary>Replaces, in place, the history, attributes and running totals by those folded from <paramref name="history"/>.</summary>
    internal void FoldAnew(IEnumerable<CustomerEvent> history, RetentionPlan? plan)
    {
        var events = history.ToList();
        EventsByType.Clear();
        Attributes.Clear();
        Pending.Clear();
        Running.Clear();
        Columns = null;
        Retention = plan?.Spec;
        // Never evaluated: everything counts as recorded, as Record takes it.
        var recordedUpTo = EvaluatedAt ?? DateTimeOffset.MaxValue;
        var context = new EvaluationContext();
        foreach (var e in events)
        {
            if (e.OccurredAt > recordedUpTo)
            {
                Pending.Add(e);
            }
            else if (Record(e, null, Retention))
            {
                plan?.Count(this, e, context);
            }
        }

        if (EvaluatedAt is { } evaluatedAt)
        {
            Forget(evaluatedAt);
        }
    }

    /// <summary>A deep copy, for deciding on a state without touching the original.</summary>
    public CustomerState Clone() => new()
    {
        CustomerId = CustomerId,
        EventsByType = EventsByType.ToDictionary(p => p.Key, p => new List<CustomerEvent>(p.Value), StringComparer.Ordinal),
        Attributes = new Dictionary<string, AttributeValue>(Attributes, StringComparer.Ordinal),
        Pending = [.. Pending],
        Held = new Dictionary<string, DateTimeOffset>(Held, StringComparer.Ordinal),
        LastGroupEntry = new Dictionary<string, DateTimeOffset>(LastGroupEntry, StringComparer.Ordinal),
        Qualifying = new HashSet<string>(Qualifying, StringComparer.Ordinal),
        RecheckAt = new Dictionary<string, DateTimeOffset>(RecheckAt, StringComparer.Ordinal),
        CooldownWaits = new Dictionary<string, DateTimeOffset>(CooldownWaits, StringComparer.Ordinal),
        Retention = Retention,
        Running = Running.ToDictionary(p => p.Key, p => p.Value.Clone(), StringComparer.Ordinal),
        RulesetFingerprint = RulesetFingerprint,
        EvaluatedAt = EvaluatedAt,
        NextCheckAt = NextCheckAt,
    };

    /// <summary>
    /// Before <paramref name="e"/> goes into <paramref name="list"/> at <paramref name="position"/>: columns that match the
    /// list take it when it goes at the end; otherwise they are dropped and rebuilt when next read.
    /// </summary>
    private void KeepColumns(CustomerEvent e, List<CustomerEvent> list, int position)
    {
        if (Columns is null || !Columns.TryGetValue(e.Type, out var columns))
        {
            return;
        }

        if (position == list.Count && columns.Matches(list))
        {
            columns.Append(e);
        }
        else
        {
            Columns.Remove(e.Type);
        }
    }

    private static readonly IComparer<CustomerEvent> OccurrenceOrder = Comparer<CustomerEvent>.Create(CustomerEvent.CompareByOccurrence);

    private static bool IsLater(CustomerEvent e, AttributeValue current)
    {
        var byTime = e.OccurredAt.UtcTicks.CompareTo(current.OccurredAt.UtcTicks);
        return byTime > 0 || (byTime == 0 && string.CompareOrdinal(e.EventId, current.EventId) > 0);
    }
}
