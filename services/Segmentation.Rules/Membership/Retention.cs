using Segmentation.Rules.Conflicts;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Membership;

/// <summary>
/// What a customer's state keeps of its history: for each event type that rules read event by event (window aggregates,
/// filters that look at time), the events inside the longest such window (null: all of them) with only the properties
/// the rules read; and all-time aggregates (counts, sums, minimums, maximums, first and last, with their filters) as
/// running totals. Every type's count, first and last are kept as running totals whatever the rules read. Serialised
/// with the state, so a later ruleset can tell whether the state holds what it needs (<see cref="Covers"/>).
/// </summary>
public sealed class RetentionSpec
{
    public Dictionary<string, TypeRetention> Types { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Running totals kept besides each type's count/first/last, by <see cref="RunningKeys"/>.</summary>
    public HashSet<string> Running { get; init; } = new(StringComparer.Ordinal);

    /// <summary>True when everything <paramref name="needed"/> reads is kept under this spec.</summary>
    public bool Covers(RetentionSpec needed)
    {
        foreach (var (type, wanted) in needed.Types)
        {
            if (!Types.TryGetValue(type, out var kept) || !kept.Covers(wanted))
            {
                return false;
            }
        }

        return needed.Running.IsSubsetOf(Running);
    }

    internal bool Tracks(string runningKey) => RunningKeys.IsTypeTotal(runningKey) || Running.Contains(runningKey);
}

/// <summary>How far back one type's events are kept (null: all) and which of their properties.</summary>
public sealed record TypeRetention(TimeSpan? Window, HashSet<string> Properties)
{
    public bool Covers(TypeRetention wanted) =>
        (Window is null || (wanted.Window is { } window && window <= Window)) && wanted.Properties.IsSubsetOf(Properties);
}

/// <summary>An all-time aggregate kept as it goes: events counted (those carrying the property, when there is one), sum, extremes, first and last.</summary>
public sealed class RunningTotal
{
    public long Count { get; set; }

    public double Sum { get; set; }

    public double? Min { get; set; }

    public double? Max { get; set; }

    public long? FirstTicks { get; set; }

    public long? LastTicks { get; set; }

    public RunningTotal Clone() => (RunningTotal)MemberwiseClone();

    internal void Add(long ticks, double? amount)
    {
        Count++;
        FirstTicks = FirstTicks is { } first && first <= ticks ? first : ticks;
        LastTicks = LastTicks is { } last && last >= ticks ? last : ticks;
        if (amount is { } value)
        {
            Sum += value;
            Min = Min is { } min && min <= value ? min : value;
            Max = Max is { } max && max >= value ? max : value;
        }
    }
}

/// <summary>The keys of running totals: event type, property and the filter's canonical text.</summary>
internal static class RunningKeys
{
    public static string TypeTotal(string eventType) => eventType + "|";

    /// <summary>Every other key has a dot after the event type, which a type name cannot contain.</summary>
    public static bool IsTypeTotal(string key) => !key.Contains('.', StringComparison.Ordinal);

    /// <summary>The running key answering <paramref name="aggregate"/>, or null when it must read events one by one.</summary>
    public static string? Of(EventAggregate aggregate)
    {
        var allTime = aggregate.Kind is AggregateKind.First or AggregateKind.Last || aggregate.Window is null;
        if (!allTime || (aggregate.Filter is { } filter && !IsTimeless(filter)))
        {
            return null;
        }

        var property = aggregate.Kind is AggregateKind.First or AggregateKind.Last ? null : aggregate.Property;
        return property is null && aggregate.Filter is null
            ? TypeTotal(aggregate.EventType)
            : $"{aggregate.EventType}.{property}|{(aggregate.Filter is null ? string.Empty : CanonicalText.Of(aggregate.Filter))}";
    }

    /// <summary>A filter that reads only the filtered event's properties gives the same answer for an event at any time.</summary>
    private static bool IsTimeless(Expr filter) => !filter.DescendantsAndSelf().Any(e => e is NowExpr or EventAggregate);
}

/// <summary>The spec a ruleset needs, and how to keep an event's running totals under it (filters compiled once).</summary>
internal sealed class RetentionPlan
{
    private readonly Dictionary<string, RunningAggregate[]> runningByType;

    public RetentionPlan(Ruleset ruleset)
    {
        var types = new Dictionary<string, (TimeSpan? Window, HashSet<string> Properties)>(StringComparer.Ordinal);
        var running = new Dictionary<string, RunningAggregate>(StringComparer.Ordinal);
        foreach (var aggregate in ruleset.Segments.SelectMany(s => s.Condition.DescendantsAndSelf()).OfType<EventAggregate>())
        {
            if (RunningKeys.Of(aggregate) is { } key)
            {
                if (!RunningKeys.IsTypeTotal(key) && !running.ContainsKey(key))
                {
                    running[key] = new RunningAggregate(aggregate.EventType, key, aggregate.Property,
                        aggregate.Filter is null ? null : ExpressionCompiler.CompileFilter(aggregate.Filter));
                }

                continue;
            }

            // Read event by event: keep the window (all events for a time-dependent filter without one) and the properties read.
            var window = aggregate.Kind is AggregateKind.First or AggregateKind.Last ? null : aggregate.Window?.Value;
            var properties = aggregate.Filter?.DescendantsAndSelf().OfType<NameRef>().Select(n => n.Name) ?? [];
            if (aggregate.Property is { } property)
            {
                properties = properties.Append(property);
            }

            if (types.TryGetValue(aggregate.EventType, out var kept))
            {
                kept.Properties.UnionWith(properties);
                types[aggregate.EventType] = (kept.Window is null || window is null ? null : Max(kept.Window.Value, window.Value), kept.Properties);
            }
            else
            {
                types[aggregate.EventType] = (window, new HashSet<string>(properties, StringComparer.Ordinal));
            }
        }

        Spec = new RetentionSpec
        {
            Types = types.ToDictionary(t => t.Key, t => new TypeRetention(t.Value.Window, t.Value.Properties), StringComparer.Ordinal),
            Running = new HashSet<string>(running.Keys, StringComparer.Ordinal),
        };
        runningByType = running.Values.GroupBy(r => r.EventType, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    public RetentionSpec Spec { get; }

    /// <summary>Adds a newly recorded event to its type's count/first/last and to every running total of its type it counts for.</summary>
    public void Count(CustomerState state, CustomerEvent e, EvaluationContext context)
    {
        var ticks = e.OccurredAt.UtcTicks;
        Total(state, RunningKeys.TypeTotal(e.Type)).Add(ticks, null);
        if (!runningByType.TryGetValue(e.Type, out var aggregates))
        {
            return;
        }

        foreach (var aggregate in aggregates)
        {
            if (aggregate.Filter is { } filter && !ExpressionCompiler.Matches(context, filter, e))
            {
                continue;
            }

            if (aggregate.Property is not { } property)
            {
                Total(state, aggregate.Key).Add(ticks, null);
            }
            else if (e.Properties.TryGetValue(property, out var value) && value.Kind == ValueKind.Number)
            {
                Total(state, aggregate.Key).Add(ticks, value.AsNumber);
            }
        }
    }

    private static RunningTotal Total(CustomerState state, string key)
    {
        if (!state.Running.TryGetValue(key, out var total))
        {
            total = new RunningTotal();
            state.Running.Add(key, total);
        }

        return total;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private sealed record RunningAggregate(string EventType, string Key, string? Property, Evaluator? Filter);
}
