using System.Globalization;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Conflicts;

/// <summary>
/// Turns a model of a conjunction into a concrete event history, then has the real engine replay it and evaluate the
/// segments' conditions at the chosen instant. Only a history the engine confirms is ever returned.
/// </summary>
internal sealed class WitnessBuilder
{
    public const string CustomerId = "witness";

    private static readonly ExpressionCompiler FilterCompiler = new(new Dictionary<string, AttributeType>());

    private readonly Dictionary<string, Evaluator> filters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Expr>> filterLiterals = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> filterProperties = new(StringComparer.Ordinal);
    private readonly SegmentEngine conditions;
    private readonly SegmentEngine replayer;
    private readonly Dictionary<SequenceKey<(Variable Variable, long Value, string? Text)>, History?> histories = [];

    /// <param name="ruleset">The ruleset the segments come from.</param>
    /// <param name="segments">The segments whose conditions witnesses are built for.</param>
    public WitnessBuilder(Ruleset ruleset, IReadOnlyList<SegmentRule> segments)
    {
        conditions = new SegmentEngine(ruleset with { Segments = segments });
        // Witness histories are a few events, replayed by an engine without segments and read by another's conditions:
        // the replayed states keep every event rather than what the replaying engine's (empty) ruleset reads.
        replayer = new SegmentEngine(ruleset with { Segments = [] }, boundedState: false);
        foreach (var aggregate in segments.SelectMany(s => s.Condition.DescendantsAndSelf()).OfType<EventAggregate>())
        {
            if (aggregate.Filter is { } filter && filters.TryAdd(CanonicalText.Of(filter), FilterCompiler.Compile(filter).Evaluate))
            {
                var text = CanonicalText.Of(filter);
                filterLiterals[text] = [.. filter.DescendantsAndSelf().Where(e => e is NumberLiteral or StringLiteral or BoolLiteral)];
                filterProperties[text] = [.. filter.DescendantsAndSelf().OfType<NameRef>().Select(n => n.Name)];
            }
        }
    }

    /// <summary>A history, confirmed by the engine, in which every one of <paramref name="segments"/> qualifies at the returned instant.</summary>
    public ConflictWitness? Build(CubeModel model, IReadOnlyList<SegmentRule> segments) =>
        HistoryOf(model) is { } history && segments.All(segment => Holds(segment, history)) ? history.Witness : null;

    /// <summary>
    /// The history built from a model, replayed by the engine; null when none could be built. Built and replayed once per
    /// model: equal models (many pairs lead to the same one) share it.
    /// </summary>
    public History? HistoryOf(CubeModel model)
    {
        var key = model.Key();
        if (!histories.TryGetValue(key, out var history))
        {
            history = Events(model) is { } events ? Replay(events, new DateTimeOffset(model.Now, TimeSpan.Zero)) : null;
            histories.Add(key, history);
        }

        return history;
    }

    /// <summary>Replays the history through the real engine and asks it whether each condition holds at the instant.</summary>
    public bool Confirms(IReadOnlyList<SegmentRule> segments, IReadOnlyList<CustomerEvent> events, DateTimeOffset at)
    {
        var history = Replay(events, at);
        return segments.All(segment => Holds(segment, history));
    }

    /// <summary>Whether the engine finds the segment's condition true at the history's instant.</summary>
    public bool Holds(SegmentRule segment, History history) => conditions.ConditionHolds(history.State, segment.Name, history.Witness.At);

    /// <summary>A witness with the customer state the engine reaches by replaying it.</summary>
    public sealed record History(ConflictWitness Witness, CustomerState State);

    /// <summary>
    /// The state holds every event and attribute whatever the segments, so an engine without any replays it and the
    /// engine of the segments evaluates each condition on it.
    /// </summary>
    private History Replay(IReadOnlyList<CustomerEvent> events, DateTimeOffset at) =>
        new(new ConflictWitness(at, events), replayer.Replay(CustomerId, events, at).State);

    /// <summary>One event under construction: its age (ticks before now), the filters it must pass, and its properties.</summary>
    private sealed class DraftEvent(string type, long age, string? filter)
    {
        public string Type { get; } = type;

        public long Age { get; } = age;

        public string? Filter { get; } = filter;

        public Dictionary<string, Value> Properties { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Absent { get; } = new(StringComparer.Ordinal);

        public bool Decided(string property) => Properties.ContainsKey(property) || Absent.Contains(property);
    }

    private List<CustomerEvent>? Events(CubeModel model)
    {
        var drafts = new List<DraftEvent>();
        foreach (var type in model.Counts.Keys.Select(c => c.Stream.EventType).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var ofType = EventsOf(type, model);
            if (ofType is null || !AssignAmounts(type, ofType, model) || !SatisfyFilters(type, ofType))
            {
                return null;
            }

            drafts.AddRange(ofType);
        }

        if (drafts.Count > CubeModel.MaxEvents || !SetAttributes(model, drafts))
        {
            return null;
        }

        var now = model.Now;
        if (drafts.Any(d => d.Age > now || d.Age < 0))
        {
            return null;
        }

        var ordered = drafts.OrderByDescending(d => d.Age).ThenBy(d => d.Type, StringComparer.Ordinal).ToList();
        return [.. ordered.Select((d, i) => new CustomerEvent
        {
            EventId = $"w{i + 1:D3}",
            Type = d.Type,
            OccurredAt = new DateTimeOffset(now - d.Age, TimeSpan.Zero),
            Properties = d.Properties,
        })];
    }

    // ---- placing events in time --------------------------------------------------------------------------------------

    private static List<DraftEvent>? EventsOf(string type, CubeModel model)
    {
        var unfiltered = new EventStream(type, null);
        var events = new List<DraftEvent>();
        foreach (var stream in model.Counts.Keys.Where(c => c.Stream.EventType == type && c.Stream.FilterText is not null).Select(c => c.Stream).Distinct())
        {
            var ages = Place(Bands(model, stream, []), LastAge(model, stream), FirstAge(model, stream));
            if (ages is null)
            {
                return null;
            }

            events.AddRange(ages.Select(age => new DraftEvent(type, age, stream.FilterText)));
        }

        // Events of the unfiltered stream that no filtered stream accounts for, placed where the unfiltered counts need them.
        var bands = Bands(model, unfiltered, events);
        if (bands is null)
        {
            return null;
        }

        var youngest = events.Count == 0 ? (long?)null : events.Min(e => e.Age);
        var oldest = events.Count == 0 ? (long?)null : events.Max(e => e.Age);
        var last = LastAge(model, unfiltered);
        var first = FirstAge(model, unfiltered);
        var extras = Place(bands, last == youngest ? null : last, first == oldest ? null : first);
        if (extras is null)
        {
            return null;
        }

        events.AddRange(extras.Select(age => new DraftEvent(type, age, null)));
        return events;
    }

    private static long? LastAge(CubeModel model, EventStream stream) =>
        model.Times.TryGetValue(new OccurrenceVariable(AggregateKind.Last, stream), out var at) ? model.Now - at : null;

    private static long? FirstAge(CubeModel model, EventStream stream) =>
        model.Times.TryGetValue(new OccurrenceVariable(AggregateKind.First, stream), out var at) ? model.Now - at : null;

    /// <summary>Age bands [from, to) with how many events each needs, from the stream's counts per window, less those already placed.</summary>
    private static List<(long From, long To, int Count)>? Bands(CubeModel model, EventStream stream, List<DraftEvent> placed)
    {
        var windows = model.Counts
            .Where(p => p.Key.Stream == stream && p.Key.Property is null)
            .Select(p => (Window: p.Key.WindowTicks ?? long.MaxValue, p.Value))
            .OrderBy(p => p.Window)
            .ToList();
        var bands = new List<(long, long, int)>();
        long from = 0;
        var before = 0;
        foreach (var (window, total) in windows)
        {
            var already = placed.Count(e => e.Age >= from && e.Age < window);
            var needed = total - before - already;
            if (needed < 0)
            {
                return null;
            }

            bands.Add((from, window, needed));
            from = window;
            before = total;
        }

        return bands;
    }

    /// <summary>
    /// Ages for the events of the bands: as young as the band and <paramref name="lastAge"/> allow, with the oldest at
    /// <paramref name="firstAge"/> when given.
    /// </summary>
    private static List<long>? Place(List<(long From, long To, int Count)>? bands, long? lastAge, long? firstAge)
    {
        if (bands is null)
        {
            return null;
        }

        var ages = new List<long>();
        var nonEmpty = bands.Where(b => b.Count > 0).ToList();
        for (var i = 0; i < nonEmpty.Count; i++)
        {
            var (from, to, count) = nonEmpty[i];
            var low = Math.Max(from, lastAge ?? 0);
            var high = Math.Min(to - 1, firstAge ?? long.MaxValue);
            if (low > high)
            {
                return null;
            }

            for (var k = 0; k < count; k++)
            {
                var oldestOfAll = i == nonEmpty.Count - 1 && k == count - 1;
                ages.Add(oldestOfAll && firstAge is { } f && f >= low && f <= high && (ages.Count > 0 || lastAge is null || lastAge == f) ? f : low);
            }
        }

        return ages;
    }

    // ---- property values ---------------------------------------------------------------------------------------------

    private static bool AssignAmounts(string type, List<DraftEvent> events, CubeModel model)
    {
        var targets = model.Numbers.Keys.OfType<PropertyAggregateVariable>().Where(a => a.Stream.EventType == type)
            .Select(a => (a.Stream, a.Property)).Distinct()
            .OrderBy(p => p.Stream.FilterText is null ? 1 : 0).ThenBy(p => p.Stream.ToString(), StringComparer.Ordinal).ThenBy(p => p.Property, StringComparer.Ordinal);
        foreach (var (stream, property) in targets)
        {
            var members = YoungestFirst(events.Where(e => stream.FilterText is null || e.Filter == stream.FilterText));
            var windows = model.Counts.Keys.Where(c => c.Stream == stream && c.Property == property)
                .Select(c => c.WindowTicks).Distinct().OrderBy(w => w ?? long.MaxValue).ToList();
            foreach (var window in windows)
            {
                // The window's events without a decision on the property, and the amounts of those that carry it.
                var open = new List<DraftEvent>();
                var previous = new List<double>();
                foreach (var e in members)
                {
                    if (e.Age >= (window ?? long.MaxValue))
                    {
                        continue;
                    }

                    if (!e.Decided(property))
                    {
                        open.Add(e);
                    }

                    if (e.Properties.TryGetValue(property, out var amount))
                    {
                        previous.Add(amount.AsNumber);
                    }
                }

                var carriers = model.Counts[new CountVariable(stream, window, property)];
                var newCarriers = Math.Min(open.Count, Math.Max(0, carriers - previous.Count));
                for (var i = newCarriers; i < open.Count; i++)
                {
                    open[i].Absent.Add(property);
                }

                var values = Amounts(newCarriers, previous, Target(model, AggregateKind.Sum), Target(model, AggregateKind.Min),
                    Target(model, AggregateKind.Max), Target(model, AggregateKind.Avg), carriers);
                for (var i = 0; i < newCarriers; i++)
                {
                    open[i].Properties[property] = Value.FromNumber(values[i]);
                }

                double? Target(CubeModel m, AggregateKind kind) =>
                    m.Numbers.TryGetValue(new PropertyAggregateVariable(kind, stream, property, window), out var v) ? v : null;
            }
        }

        return true;
    }

    /// <summary>The events by age, youngest first; events of the same age keep their order (a stable insertion sort).</summary>
    private static List<DraftEvent> YoungestFirst(IEnumerable<DraftEvent> events)
    {
        var sorted = new List<DraftEvent>();
        foreach (var e in events)
        {
            var at = sorted.Count;
            while (at > 0 && sorted[at - 1].Age > e.Age)
            {
                at--;
            }

            sorted.Insert(at, e);
        }

        return sorted;
    }

    /// <summary>Values for <paramref name="count"/> new amounts so that, with the previous ones, the window hits its targets.</summary>
    private static double[] Amounts(int count, List<double> previous, double? sum, double? min, double? max, double? avg, int carriers)
    {
        var values = new double?[count];
        var next = 0;
        if (min is { } m && next < count && (previous.Count == 0 || previous.Min() > m))
        {
            values[next++] = m;
        }

        if (max is { } x && next < count && (previous.Count == 0 || previous.Max() < x) && !(next == 1 && values[0] == x))
        {
            values[next++] = x;
        }

        var total = sum ?? (avg is { } a ? a * carriers : null);
        var free = count - next;
        if (free > 0)
        {
            var fill = total is { } t ? (t - previous.Sum() - values.Sum(v => v ?? 0)) / free : min ?? max ?? avg ?? 1;
            for (var i = next; i < count; i++)
            {
                values[i] = fill;
            }
        }

        return [.. values.Select(v => v ?? 0)];
    }

    /// <summary>
    /// Fills the properties the filters read so each event passes exactly its own stream's filter (and an unfiltered one
    /// none), by trying the literals of the filters and their neighbours.
    /// </summary>
    private bool SatisfyFilters(string type, List<DraftEvent> events)
    {
        var relevant = events.SelectMany(e => e.Filter is null ? [] : new[] { e.Filter }).Distinct(StringComparer.Ordinal).ToList();
        if (relevant.Count == 0)
        {
            return true;
        }

        var context = new EvaluationContext();
        foreach (var draft in events)
        {
            var properties = relevant.SelectMany(f => filterProperties[f]).Distinct(StringComparer.Ordinal)
                .Where(p => !draft.Decided(p)).Order(StringComparer.Ordinal).ToList();
            var candidates = properties.Select(_ => Candidates(relevant)).ToList();
            var found = false;
            foreach (var combination in Combinations(candidates, 4096))
            {
                var trial = new Dictionary<string, Value>(draft.Properties, StringComparer.Ordinal);
                for (var i = 0; i < properties.Count; i++)
                {
                    if (!combination[i].IsNull)
                    {
                        trial[properties[i]] = combination[i];
                    }
                }

                context.Current = new CustomerEvent { EventId = "probe", Type = type, OccurredAt = DateTimeOffset.UnixEpoch, Properties = trial };
                if (relevant.All(f => filters[f](context).AsBool == (f == draft.Filter)))
                {
                    foreach (var (name, value) in trial)
                    {
                        draft.Properties[name] = value;
                    }

                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    private List<Value> Candidates(List<string> relevantFilters)
    {
        var values = new List<Value> { Value.Null };
        foreach (var literal in relevantFilters.SelectMany(f => filterLiterals[f]))
        {
            switch (literal)
            {
                case NumberLiteral n:
                    values.AddRange([Value.FromNumber(n.Value), Value.FromNumber(n.Value + 1), Value.FromNumber(n.Value - 1)]);
                    break;
                case StringLiteral s:
                    values.AddRange([Value.FromString(s.Value), Value.FromString(s.Value + "_other")]);
                    break;
                case BoolLiteral:
                    values.AddRange([Value.True, Value.False]);
                    break;
            }
        }

        return [.. values.Distinct()];
    }

    private static IEnumerable<Value[]> Combinations(List<List<Value>> candidates, int limit)
    {
        var indices = new int[candidates.Count];
        for (var produced = 0; produced < limit; produced++)
        {
            yield return [.. indices.Select((index, i) => candidates[i][index])];
            var position = 0;
            while (position < indices.Length && ++indices[position] == candidates[position].Count)
            {
                indices[position++] = 0;
            }

            if (position == indices.Length)
            {
                yield break;
            }
        }
    }

    /// <summary>Attribute values go on one ProfileUpdated event at the evaluation instant (or the latest one already placed).</summary>
    private static bool SetAttributes(CubeModel model, List<DraftEvent> drafts)
    {
        var values = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (var (variable, number) in model.Numbers)
        {
            if (variable is AttributeVariable attribute)
            {
                values[attribute.Name] = Value.FromNumber(number);
            }
        }

        foreach (var (variable, ticks) in model.Times)
        {
            if (variable is AttributeVariable attribute)
            {
                values[attribute.Name] = Value.FromString(Value.FormatTimestamp(new DateTimeOffset(ticks, TimeSpan.Zero)));
            }
        }

        foreach (var (variable, text) in model.Texts)
        {
            values[variable.Name] = Value.FromString(text);
        }

        foreach (var (variable, flag) in model.Bools)
        {
            values[variable.Name] = Value.FromBool(flag);
        }

        if (values.Count == 0)
        {
            return true;
        }

        var carrier = drafts.Where(d => d.Type == Ruleset.ProfileUpdated).OrderBy(d => d.Age).FirstOrDefault();
        if (carrier is null)
        {
            if (model.Counts.Keys.Any(c => c.Stream.EventType == Ruleset.ProfileUpdated))
            {
                // The conditions count ProfileUpdated events; one more for the attributes would change those counts.
                return false;
            }

            carrier = new DraftEvent(Ruleset.ProfileUpdated, 0, null);
            drafts.Add(carrier);
        }

        foreach (var (name, value) in values)
        {
            carrier.Properties[name] = value;
        }

        return true;
    }

    internal static string Describe(CustomerEvent e) =>
        $"{e.Type} at {Value.FormatTimestamp(e.OccurredAt)}" + (e.Properties.Count == 0 ? string.Empty
            : " {" + string.Join(", ", e.Properties.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}: {p.Value}"))) + "}");
}
