using Segmentation.Rules.Language;

namespace Segmentation.Rules.Conflicts;

/// <summary>
/// Decides whether one conjunction of atoms can hold, with the relations the language implies between its variables
/// (see <see cref="Propagate"/>). Numbers, counts and instants are three difference-bound systems; strings, booleans
/// and null-ness are per-variable domains. Every relation added is true of every real history, so "unsatisfiable" is a
/// proof; "satisfiable" is a candidate until a witness history confirms it.
/// </summary>
internal sealed class CubeSolver
{
    private const int ZeroNode = 0;
    private const int NowNode = 1;

    private readonly Dictionary<Variable, int> realNodes = [];
    private readonly Dictionary<Variable, int> countNodes = [];
    private readonly Dictionary<Variable, int> timeNodes = [];
    private readonly List<StreamIndex> streams = [];
    private readonly List<AggregateIndex> propertyAggregates = [];
    private readonly Dictionary<Variable, int> slots = [];
    private readonly Variable[] slotVariables;
    private readonly ModelOrder modelOrder;

    // Null-ness, boolean values and text domains by slot. Each also lists its slots in the order they were first
    // constrained, the order models take them in (it decides the order of a witness's attributes).
    private readonly bool?[] isNull;
    private readonly int[] nullOrder;
    private int nullCount;
    private readonly bool?[] bools;
    private readonly int[] boolOrder;
    private int boolCount;
    private readonly TextDomain?[] texts;
    private readonly int[] textOrder;
    private int textCount;

    private readonly DifferenceBounds<double> reals;
    private readonly DifferenceBounds<Int128> counts;
    private readonly DifferenceBounds<Int128> times;

    // The last propagation ended because a round changed nothing (not at its limit of rounds), and nothing was added since.
    private bool settled;

    // Two solvers PickModel copies its choices into, kept so that models are picked without allocating solvers.
    private (CubeSolver Current, CubeSolver Next)? pickScratch;

    /// <summary>Why the conjunction cannot hold, once it is known not to.</summary>
    public string? Contradiction { get; private set; }

    public bool Satisfiable => Contradiction is null;

    private sealed record TextDomain(IReadOnlySet<string>? Included, IReadOnlySet<string> Excluded);

    private static readonly TextDomain EmptyTextDomain = new(null, new HashSet<string>(StringComparer.Ordinal));

    /// <summary>
    /// A stream's nodes and slots, looked up once: its whole count, first and last, unfiltered first and last, window counts.
    /// </summary>
    private sealed record StreamIndex(
        int FirstSlot,
        int LastSlot,
        int AllNode,
        int FirstNode,
        int LastNode,
        (int FirstSlot, int LastSlot, int FirstNode, int LastNode)? Unfiltered,
        (long Window, int Node)[] Windows);

    /// <summary>
    /// A sum/min/max/avg with its node, its slot, its carrying count's node, and the aggregates over the same stream and
    /// property.
    /// </summary>
    private sealed record AggregateIndex(PropertyAggregateVariable Variable, int Node, int Slot, int CarriersNode)
    {
        public List<AggregateIndex> Siblings { get; } = [];
    }

    /// <summary>
    /// The order in which <see cref="PickModel"/> chooses values, which depends only on the nodes: counts (filtered, then
    /// unfiltered, then carrying a property), numbers (with the sums derived from an average and a count apart), instants;
    /// and how many text and boolean attributes there are to choose.
    /// </summary>
    private sealed record ModelOrder(
        (CountVariable Variable, int Node)[] Counts,
        (Variable Variable, int Node, int Slot, int AverageSlot)[] Numbers,
        (Variable Variable, int Node, int Slot)[] Times,
        int Texts,
        int Bools);

    private CubeSolver(IEnumerable<Variable> variables)
    {
        // Insertion order (no sorting): deterministic, and cheaper than ordering by name.
        var all = Close(variables);
        slotVariables = [.. all];
        for (var slot = 0; slot < slotVariables.Length; slot++)
        {
            slots[slotVariables[slot]] = slot;
        }

        timeNodes[NowVariable.Instance] = NowNode;
        foreach (var variable in all)
        {
            switch (variable)
            {
                case CountVariable:
                    countNodes[variable] = countNodes.Count + 1;
                    break;
                case OccurrenceVariable:
                case AttributeVariable { Type: ExprType.Timestamp }:
                    timeNodes.TryAdd(variable, timeNodes.Count + 1);
                    break;
                case PropertyAggregateVariable:
                case AttributeVariable { Type: ExprType.Number }:
                    realNodes[variable] = realNodes.Count + 1;
                    break;
            }
        }

        foreach (var stream in all.OfType<CountVariable>().Select(c => c.Stream).Distinct())
        {
            var first = new OccurrenceVariable(AggregateKind.First, stream);
            var last = new OccurrenceVariable(AggregateKind.Last, stream);
            (int, int, int, int)? unfiltered = null;
            if (stream.FilterText is not null)
            {
                var unfilteredFirst = new OccurrenceVariable(AggregateKind.First, stream with { FilterText = null });
                var unfilteredLast = unfilteredFirst with { Kind = AggregateKind.Last };
                unfiltered = (slots[unfilteredFirst], slots[unfilteredLast], timeNodes[unfilteredFirst], timeNodes[unfilteredLast]);
            }

            var windows = countNodes
                .Where(p => p.Key is CountVariable { WindowTicks: not null, Property: null } c && c.Stream == stream)
                .Select(p => (((CountVariable)p.Key).WindowTicks!.Value, p.Value))
                .ToArray();
            streams.Add(new StreamIndex(
                slots[first], slots[last], countNodes[new CountVariable(stream, null)], timeNodes[first], timeNodes[last], unfiltered, windows));
        }

        foreach (var aggregate in all.OfType<PropertyAggregateVariable>())
        {
            propertyAggregates.Add(new AggregateIndex(aggregate, realNodes[aggregate], slots[aggregate], countNodes[aggregate.Carriers]));
        }

        foreach (var aggregate in propertyAggregates)
        {
            aggregate.Siblings.AddRange(propertyAggregates.Where(other => other != aggregate
                && other.Variable.Stream == aggregate.Variable.Stream && other.Variable.Property == aggregate.Variable.Property));
        }

        reals = new DifferenceBounds<double>(realNodes.Count + 1, integral: false);
        counts = new DifferenceBounds<Int128>(countNodes.Count + 1, integral: true);
        times = new DifferenceBounds<Int128>(timeNodes.Count + 1, integral: true);
        modelOrder = OrderModel();
        (isNull, nullOrder, bools, boolOrder, texts, textOrder) = (new bool?[slotVariables.Length], new int[slotVariables.Length],
            new bool?[slotVariables.Length], new int[slotVariables.Length], new TextDomain?[slotVariables.Length], new int[slotVariables.Length]);
        AddStaticRelations();
    }

    private CubeSolver(CubeSolver other)
    {
        realNodes = other.realNodes;
        countNodes = other.countNodes;
        timeNodes = other.timeNodes;
        streams = other.streams;
        propertyAggregates = other.propertyAggregates;
        slots = other.slots;
        slotVariables = other.slotVariables;
        modelOrder = other.modelOrder;
        (isNull, nullOrder, bools, boolOrder, texts, textOrder) = ((bool?[])other.isNull.Clone(), (int[])other.nullOrder.Clone(),
            (bool?[])other.bools.Clone(), (int[])other.boolOrder.Clone(), (TextDomain?[])other.texts.Clone(), (int[])other.textOrder.Clone());
        (nullCount, boolCount, textCount) = (other.nullCount, other.boolCount, other.textCount);
        settled = other.settled;
        reals = other.reals.Clone();
        counts = other.counts.Clone();
        times = other.times.Clone();
        Contradiction = other.Contradiction;
    }

    public CubeSolver Clone() => new(this);

    /// <summary>Makes this solver (one with the same set-up) a copy of <paramref name="other"/>, without allocating.</summary>
    private void CopyFrom(CubeSolver other)
    {
        other.isNull.AsSpan().CopyTo(isNull);
        other.nullOrder.AsSpan().CopyTo(nullOrder);
        other.bools.AsSpan().CopyTo(bools);
        other.boolOrder.AsSpan().CopyTo(boolOrder);
        other.texts.AsSpan().CopyTo(texts);
        other.textOrder.AsSpan().CopyTo(textOrder);
        (nullCount, boolCount, textCount) = (other.nullCount, other.boolCount, other.textCount);
        settled = other.settled;
        reals.CopyFrom(other.reals);
        counts.CopyFrom(other.counts);
        times.CopyFrom(other.times);
        Contradiction = other.Contradiction;
    }

    /// <summary>
    /// Solves the conjunction of the atoms of <paramref name="cubes"/>, in order; the result is <see cref="Satisfiable"/>
    /// or says why not. With <paramref name="setUps"/>, a solver already set up for the same variables is copied rather
    /// than set up again, into the one solver the set-ups keep for those variables: it stays valid until the next call
    /// with the same set-ups and variables.
    /// </summary>
    public static CubeSolver Solve(IReadOnlyList<IReadOnlyList<Atom>> cubes, SetUps? setUps = null)
    {
        var solver = setUps is null ? new CubeSolver(cubes.SelectMany(VariablesOf)) : setUps.For(cubes);
        foreach (var cube in cubes)
        {
            foreach (var atom in cube)
            {
                solver.Apply(atom);
                if (!solver.Satisfiable)
                {
                    return solver;
                }
            }
        }

        solver.Propagate();
        return solver;
    }

    /// <summary>
    /// Solvers set up (nodes, indexes and the static relations between them) for a sequence of variables, which is all the
    /// set-up depends on, in the order the atoms name them. Not thread-safe.
    /// </summary>
    /// <remarks>
    /// Cubes (the alternatives of normal forms, which live as long as the analysis) are known by reference: each is
    /// numbered once by the sequence of variables its atoms name, and a pair of numbered sequences by the number of the
    /// two joined, so finding the set-up of a pair of cubes hashes a few numbers rather than their variables.
    /// </remarks>
    internal sealed class SetUps
    {
        private readonly Dictionary<IReadOnlyList<Atom>, int> cubeSequences = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<SequenceKey<Variable>, int> sequences = [];
        private readonly List<Variable[]> sequenceVariables = [];
        private readonly Dictionary<(int Before, int Cube), int> joined = [];
        private readonly List<(CubeSolver SetUp, CubeSolver Working)?> solvers = [];
        private readonly int noVariables;

        public SetUps() => noVariables = SequenceOf([]);

        /// <summary>The working solver for the variables of the cubes, reset to their set-up.</summary>
        public CubeSolver For(IReadOnlyList<IReadOnlyList<Atom>> cubes)
        {
            var sequence = noVariables;
            foreach (var cube in cubes)
            {
                if (!cubeSequences.TryGetValue(cube, out var cubeSequence))
                {
                    cubeSequence = SequenceOf([.. VariablesOf(cube)]);
                    cubeSequences.Add(cube, cubeSequence);
                }

                var key = (sequence, cubeSequence);
                if (!joined.TryGetValue(key, out sequence))
                {
                    sequence = SequenceOf([.. sequenceVariables[key.sequence], .. sequenceVariables[cubeSequence]]);
                    joined.Add(key, sequence);
                }
            }

            if (solvers[sequence] is not { } solver)
            {
                var setUp = new CubeSolver(sequenceVariables[sequence]);
                solver = (setUp, setUp.Clone());
                solvers[sequence] = solver;
            }

            solver.Working.CopyFrom(solver.SetUp);
            return solver.Working;
        }

        private int SequenceOf(Variable[] variables)
        {
            var key = new SequenceKey<Variable>(variables);
            if (!sequences.TryGetValue(key, out var id))
            {
                id = sequences.Count;
                sequences.Add(key, id);
                sequenceVariables.Add(variables);
                solvers.Add(null);
            }

            return id;
        }
    }

    private static IEnumerable<Variable> VariablesOf(IReadOnlyList<Atom> cube) => cube.SelectMany(atom => atom switch
    {
        NullAtom n => [n.Variable],
        NumberDifferenceAtom d => new[] { d.X, d.Y }.OfType<Variable>(),
        TimeDifferenceAtom t => new[] { t.X, t.Y }.OfType<Variable>(),
        TextAtom t => [t.Variable],
        BoolAtom b => [b.Variable],
        _ => Enumerable.Empty<Variable>(),
    });

    /// <summary>Adds the variables the implied relations need: each aggregate's counts, the unfiltered stream, first and last.</summary>
    private static HashSet<Variable> Close(IEnumerable<Variable> variables)
    {
        var all = new HashSet<Variable>();
        var pending = new Stack<Variable>(variables);
        while (pending.TryPop(out var variable))
        {
            if (!all.Add(variable))
            {
                continue;
            }

            foreach (var related in Related(variable))
            {
                pending.Push(related);
            }
        }

        return all;
    }

    private static IEnumerable<Variable> Related(Variable variable)
    {
        switch (variable)
        {
            case CountVariable count:
                yield return count with { WindowTicks = null };
                if (count.Property is not null)
                {
                    yield return count with { Property = null };
                }

                if (count.Stream.FilterText is not null)
                {
                    yield return count with { Stream = count.Stream with { FilterText = null } };
                }

                yield return new OccurrenceVariable(AggregateKind.First, count.Stream);
                yield return new OccurrenceVariable(AggregateKind.Last, count.Stream);
                break;
            case PropertyAggregateVariable aggregate:
                yield return aggregate.Carriers;
                break;
            case OccurrenceVariable occurrence:
                yield return new CountVariable(occurrence.Stream, null);
                break;
        }
    }

    private static readonly Int128 MaxTicks = DateTimeOffset.MaxValue.UtcTicks;

    private void AddStaticRelations()
    {
        foreach (var (variable, node) in countNodes)
        {
            var count = (CountVariable)variable;
            counts.Add(ZeroNode, node, 0, false);
            foreach (var (otherVariable, other) in countNodes)
            {
                var wider = (CountVariable)otherVariable;
                var sameStream = wider.Stream == count.Stream && wider.Property == count.Property;
                if (sameStream && Narrower(count.WindowTicks, wider.WindowTicks))
                {
                    counts.Add(node, other, 0, false);
                }

                var sameWindow = wider.WindowTicks == count.WindowTicks;
                if (sameWindow && wider.Stream == count.Stream && count.Property is not null && wider.Property is null)
                {
                    counts.Add(node, other, 0, false);
                }

                if (sameWindow && wider.Property == count.Property && count.Stream.FilterText is not null
                    && wider.Stream == count.Stream with { FilterText = null })
                {
                    counts.Add(node, other, 0, false);
                }
            }
        }

        foreach (var node in timeNodes.Values)
        {
            times.Add(node, ZeroNode, MaxTicks, false);
            times.Add(ZeroNode, node, 0, false);
        }
    }

    private static bool Narrower(long? window, long? than) => window is { } w && (than is null || w < than.Value);

    // ---- atoms -------------------------------------------------------------------------------------------------------

    private void Fail(string why) => Contradiction ??= why;

    private void MarkNull(Variable variable, bool value) => MarkNull(slots[variable], value);

    private void MarkNull(int slot, bool value)
    {
        var variable = slotVariables[slot];
        if (!variable.Nullable)
        {
            if (value)
            {
                Fail($"{variable} is never null");
            }

            return;
        }

        if (isNull[slot] is { } known)
        {
            if (known != value)
            {
                Fail($"{variable} cannot be both null and not null");
            }

            return;
        }

        isNull[slot] = value;
        nullOrder[nullCount++] = slot;
    }

    private void Apply(Atom atom)
    {
        settled = false;
        switch (atom)
        {
            case NullAtom n:
                MarkNull(n.Variable, n.IsNull);
                break;
            case NumberDifferenceAtom d:
                if (d.X is { } dx)
                {
                    MarkNull(dx, false);
                }

                if (d.Y is { } dy)
                {
                    MarkNull(dy, false);
                }

                if (d.X is CountVariable || d.Y is CountVariable)
                {
                    // Counts are integers: x - y < c is x - y <= ceil(c) - 1. Bounds beyond 1e30 events are as good as none.
                    var limited = Math.Clamp(d.Bound, -1e30, 1e30);
                    var bound = d.Strict ? (Int128)Math.Ceiling(limited) - 1 : (Int128)Math.Floor(limited);
                    counts.Add(CountNode(d.X), CountNode(d.Y), bound, false);
                }
                else
                {
                    reals.Add(RealNode(d.X), RealNode(d.Y), d.Bound, d.Strict);
                }

                break;
            case TimeDifferenceAtom t:
                if (t.X is { } tx)
                {
                    MarkNull(tx, false);
                }

                if (t.Y is { } ty)
                {
                    MarkNull(ty, false);
                }

                times.Add(TimeNode(t.X), TimeNode(t.Y), t.Bound, false);
                break;
            case TextAtom t:
                var textSlot = slots[t.Variable];
                MarkNull(textSlot, false);
                if (texts[textSlot] is null)
                {
                    textOrder[textCount++] = textSlot;
                }

                var domain = texts[textSlot] ?? EmptyTextDomain;
                domain = t.Member
                    ? domain with { Included = domain.Included is null ? t.Values : domain.Included.Where(t.Values.Contains).ToHashSet(StringComparer.Ordinal) }
                    : domain with { Excluded = domain.Excluded.Union(t.Values, StringComparer.Ordinal).ToHashSet(StringComparer.Ordinal) };
                texts[textSlot] = domain;
                if (domain.Included is { } included && included.All(domain.Excluded.Contains))
                {
                    Fail($"no value of {t.Variable} satisfies {t.Text}");
                }

                break;
            case BoolAtom b:
                var boolSlot = slots[b.Variable];
                MarkNull(boolSlot, false);
                if (bools[boolSlot] is not { } value)
                {
                    boolOrder[boolCount++] = boolSlot;
                }
                else if (value != b.Value)
                {
                    Fail($"{b.Variable} cannot be both true and false");
                }

                bools[boolSlot] = b.Value;
                break;
        }

        CheckBounds();
    }

    private int CountNode(Variable? variable) => variable is null ? ZeroNode : countNodes[variable];

    private int RealNode(Variable? variable) => variable is null ? ZeroNode : realNodes[variable];

    private int TimeNode(Variable? variable) => variable is null ? ZeroNode : timeNodes[variable];

    private void CheckBounds()
    {
        if (!reals.Consistent)
        {
            Fail("contradicting bounds on " + Names(reals.NodesOnNegativeCycles(), realNodes));
        }

        if (!counts.Consistent)
        {
            Fail("contradicting bounds on " + Names(counts.NodesOnNegativeCycles(), countNodes));
        }

        if (!times.Consistent)
        {
            Fail("contradicting bounds on " + Names(times.NodesOnNegativeCycles(), timeNodes));
        }
    }

    private static string Names(IEnumerable<int> nodes, Dictionary<Variable, int> index)
    {
        var names = nodes.Select(n => index.FirstOrDefault(p => p.Value == n).Key?.ToString()).OfType<string>().Distinct().ToList();
        return names.Count == 0 ? "constants" : string.Join(", ", names);
    }

    // ---- implied relations -------------------------------------------------------------------------------------------

    private bool? NullStatus(int slot) => !slotVariables[slot].Nullable ? false : isNull[slot];

    /// <summary>
    /// Applies, until nothing changes, the relations that hold conditionally: a stream has events exactly when its count
    /// is positive and its first/last are not null; an event in a window makes the last event younger than the window and
    /// the reverse; one event is both first and last; the first event outside a window makes the window count smaller than the whole count; min/max/avg are
    /// null exactly without carrying events, min &lt;= avg &lt;= max, all equal with one event; a sum of nothing is 0.
    /// </summary>
    private void Propagate()
    {
        var changed = true;
        for (var round = 0; changed && Satisfiable && round < 32; round++)
        {
            changed = false;
            foreach (var stream in streams)
            {
                changed |= PropagateStream(stream);
            }

            foreach (var aggregate in propertyAggregates)
            {
                changed |= PropagateAggregate(aggregate);
            }

            CheckBounds();
        }

        settled = !changed;
    }

    private bool SetNull(int slot, bool value)
    {
        if (NullStatus(slot) == value)
        {
            return false;
        }

        MarkNull(slot, value);
        return true;
    }

    private bool PropagateStream(StreamIndex stream)
    {
        var changed = false;
        var (first, last) = (stream.FirstSlot, stream.LastSlot);
        var (allNode, firstNode, lastNode) = (stream.AllNode, stream.FirstNode, stream.LastNode);
        const int now = NowNode;

        if (counts.LowerOfAtLeast(allNode, 1))
        {
            changed |= SetNull(first, false) | SetNull(last, false);
        }

        if (counts.UpperOfAtMost(allNode, 0))
        {
            changed |= SetNull(first, true) | SetNull(last, true);
        }

        var exists = NullStatus(first) == false || NullStatus(last) == false;
        if (exists)
        {
            changed |= SetNull(first, false) | SetNull(last, false);
            changed |= counts.Add(ZeroNode, allNode, -1, false);
            changed |= times.Add(lastNode, now, 0, false) | times.Add(firstNode, lastNode, 0, false);

            // One event is both the first and the last; a first strictly before the last takes two.
            if (counts.UpperOfAtMost(allNode, 1))
            {
                changed |= times.Add(lastNode, firstNode, 0, false);
            }

            if (times.UpperAtMost(firstNode, lastNode, -1))
            {
                changed |= counts.Add(ZeroNode, allNode, -2, false);
            }

            if (stream.Unfiltered is { } unfiltered)
            {
                changed |= SetNull(unfiltered.FirstSlot, false) | SetNull(unfiltered.LastSlot, false);
                changed |= times.Add(unfiltered.FirstNode, firstNode, 0, false) | times.Add(lastNode, unfiltered.LastNode, 0, false);
            }
        }
        else if (NullStatus(first) == true || NullStatus(last) == true)
        {
            changed |= SetNull(first, true) | SetNull(last, true);
            changed |= counts.Add(allNode, ZeroNode, 0, false);
        }

        if (!exists)
        {
            return changed;
        }

        foreach (var (window, node) in stream.Windows)
        {
            // The last event lies in (now - W, now] exactly when the window holds an event.
            if (counts.LowerOfAtLeast(node, 1))
            {
                changed |= times.Add(now, lastNode, window - 1, false);
            }

            if (counts.UpperOfAtMost(node, 0))
            {
                changed |= times.Add(lastNode, now, -window, false);
            }

            if (times.UpperAtMost(now, lastNode, window - 1))
            {
                changed |= counts.Add(ZeroNode, node, -1, false);
            }

            if (times.UpperAtMost(lastNode, now, -window))
            {
                changed |= counts.Add(node, ZeroNode, 0, false);
            }

            // The first event lies in the window exactly when the window holds every event.
            if (times.UpperAtMost(now, firstNode, window - 1))
            {
                changed |= counts.Add(allNode, node, 0, false);
            }

            if (times.UpperAtMost(firstNode, now, -window))
            {
                changed |= counts.Add(node, allNode, -1, false);
            }

            if (counts.UpperAtMost(allNode, node, 0))
            {
                changed |= times.Add(now, firstNode, window - 1, false);
            }

            if (counts.UpperAtMost(node, allNode, -1))
            {
                changed |= times.Add(firstNode, now, -window, false);
            }
        }

        return changed;
    }

    private bool PropagateAggregate(AggregateIndex aggregate)
    {
        var changed = false;
        var variable = aggregate.Variable;
        var (node, slot, carriersNode) = (aggregate.Node, aggregate.Slot, aggregate.CarriersNode);
        if (variable.Kind == AggregateKind.Sum)
        {
            if (counts.UpperOfAtMost(carriersNode, 0))
            {
                changed |= reals.AddRange(node, ZeroNode, new Bound<double>(0, false), new Bound<double>(0, false));
            }

            var excludesZero = reals.LowerOf(node) is { } low && (low.Value > 0 || (low.Value == 0 && low.Strict))
                || reals.UpperOf(node) is { } high && (high.Value < 0 || (high.Value == 0 && high.Strict));
            if (excludesZero)
            {
                changed |= counts.Add(ZeroNode, carriersNode, -1, false);
            }
        }
        else
        {
            switch (NullStatus(slot))
            {
                case false:
                    changed |= counts.Add(ZeroNode, carriersNode, -1, false);
                    break;
                case true:
                    changed |= counts.Add(carriersNode, ZeroNode, 0, false);
                    break;
            }

            if (counts.LowerOfAtLeast(carriersNode, 1))
            {
                changed |= SetNull(slot, false);
            }
            else if (counts.UpperOfAtMost(carriersNode, 0))
            {
                changed |= SetNull(slot, true);
            }
        }

        if (NullStatus(slot) == true)
        {
            return changed;
        }

        var single = counts.UpperOfAtMost(carriersNode, 1);
        foreach (var other in aggregate.Siblings)
        {
            // Same window, or nested windows (they always are) with as many carrying events: the same events.
            var sameEvents = other.Variable.WindowTicks == variable.WindowTicks
                || (counts.UpperAtMost(carriersNode, other.CarriersNode, 0) && counts.UpperAtMost(other.CarriersNode, carriersNode, 0));
            if (!sameEvents || NullStatus(other.Slot) == true)
            {
                continue;
            }

            if (other.Variable.Kind == variable.Kind)
            {
                changed |= reals.AddRange(node, other.Node, new Bound<double>(0, false), new Bound<double>(0, false));
                continue;
            }

            if (variable.Kind == AggregateKind.Sum || NullStatus(slot) != false || (other.Variable.Kind != AggregateKind.Sum && NullStatus(other.Slot) != false))
            {
                continue;
            }

            if (reals.Upper(node, other.Node) is { } below && (below.Value < 0 || (below.Value == 0 && below.Strict)))
            {
                // Two different values among min, avg, max, sum take two events.
                changed |= counts.Add(ZeroNode, carriersNode, -2, false);
            }

            if (single)
            {
                changed |= reals.AddRange(node, other.Node, new Bound<double>(0, false), new Bound<double>(0, false));
            }
            else if (Rank(variable.Kind) < Rank(other.Variable.Kind) && other.Variable.Kind != AggregateKind.Sum)
            {
                changed |= reals.Add(node, other.Node, 0, false);
            }
        }

        return changed;
    }

    private static int Rank(AggregateKind kind) => kind switch
    {
        AggregateKind.Min => 0,
        AggregateKind.Avg => 1,
        AggregateKind.Max => 2,
        _ => 3,
    };

    // ---- models ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Picks a value for every constrained variable, one at a time, re-propagating after each so later choices respect
    /// earlier ones. <paramref name="choose"/> varies the preferences between attempts. Null when a choice leads to a
    /// contradiction that the bounds did not show (rare; the caller then tries other preferences or gives up).
    /// </summary>
    public CubeModel? PickModel(ModelPreferences choose)
    {
        var (solver, next) = pickScratch ??= (Clone(), Clone());
        solver.CopyFrom(this);
        var model = new CubeModel(modelOrder.Numbers.Length, modelOrder.Counts.Length, modelOrder.Times.Length + 1, modelOrder.Texts, modelOrder.Bools);
        Span<Int128> candidates = stackalloc Int128[5];
        foreach (var (count, node) in modelOrder.Counts)
        {
            var low = solver.counts.LowerOf(node)?.Value ?? 0;
            var high = solver.counts.UpperOf(node)?.Value;
            var filtered = 0;
            foreach (var (chosen, value) in model.Counts)
            {
                if (chosen.Property is null && chosen.WindowTicks == count.WindowTicks && chosen.Stream.EventType == count.Stream.EventType)
                {
                    filtered += value;
                }
            }

            var preferred = count.Property is not null ? high ?? low
                : count.Stream.FilterText is null ? Int128.Clamp(Int128.Max(choose.Count(low, high), filtered), low, high ?? Int128.MaxValue)
                : choose.Count(low, high);
            if (high == low && low <= CubeModel.MaxEvents && solver.settled)
            {
                // The bounds already fix the count and propagation has nothing left to add: trying it would change nothing.
                model.Counts[count] = (int)low;
                continue;
            }

            var found = false;
            foreach (var candidate in Candidates(candidates, preferred, low, high))
            {
                next.CopyFrom(solver);
                next.counts.AddRange(node, ZeroNode, new Bound<Int128>(candidate, false), new Bound<Int128>(candidate, false));
                next.Propagate();
                if (next.Satisfiable)
                {
                    model.Counts[count] = (int)candidate;
                    (solver, next) = (next, solver);
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return null;
            }
        }

        // A sum beside an average of the same events is their product with the count, so it is derived once counts are known.
        Span<bool> derived = stackalloc bool[modelOrder.Numbers.Length];
        for (var i = 0; i < derived.Length; i++)
        {
            derived[i] = modelOrder.Numbers[i].AverageSlot >= 0 && solver.NullStatus(modelOrder.Numbers[i].AverageSlot) == false;
        }

        for (var i = 0; i < derived.Length; i++)
        {
            var (variable, node, slot, _) = modelOrder.Numbers[i];
            if (solver.NullStatus(slot) != false || derived[i])
            {
                continue;
            }

            var value = choose.Real(solver.reals.LowerOf(node), solver.reals.UpperOf(node));
            solver.reals.AddRange(node, ZeroNode, new Bound<double>(value, false), new Bound<double>(value, false));
            solver.Propagate();
            if (!solver.Satisfiable || !solver.reals.Consistent)
            {
                return null;
            }

            model.Numbers[variable] = value;
        }

        for (var i = 0; i < derived.Length; i++)
        {
            if (!derived[i])
            {
                continue;
            }

            var (variable, node, _, _) = modelOrder.Numbers[i];
            var sum = (PropertyAggregateVariable)variable;
            var value = model.Numbers[sum with { Kind = AggregateKind.Avg }] * model.Counts[sum.Carriers];
            solver.reals.AddRange(node, ZeroNode, new Bound<double>(value, false), new Bound<double>(value, false));
            if (!solver.reals.Consistent)
            {
                return null;
            }

            model.Numbers[sum] = value;
        }

        foreach (var (variable, node, slot) in modelOrder.Times)
        {
            if (slot >= 0 && solver.NullStatus(slot) != false)
            {
                continue;
            }

            var low = solver.times.LowerOf(node)?.Value ?? 0;
            var high = solver.times.UpperOf(node)?.Value ?? MaxTicks;
            var preferred = variable switch
            {
                NowVariable => (Int128)ModelPreferences.Anchor.UtcTicks,
                OccurrenceVariable { Kind: AggregateKind.First } first when model.Times.TryGetValue(first with { Kind = AggregateKind.Last }, out var lastAt) => lastAt,
                _ => model.Times.GetValueOrDefault(NowVariable.Instance, ModelPreferences.Anchor.UtcTicks),
            };
            var value = choose.Instant(variable, preferred, low, high);
            solver.times.AddRange(node, ZeroNode, new Bound<Int128>(value, false), new Bound<Int128>(value, false));
            solver.Propagate();
            if (!solver.Satisfiable)
            {
                return null;
            }

            model.Times[variable] = (long)value;
        }

        if (!model.Times.ContainsKey(NowVariable.Instance))
        {
            model.Times[NowVariable.Instance] = (long)(solver.times.LowerOf(NowNode)?.Value ?? ModelPreferences.Anchor.UtcTicks);
        }

        for (var i = 0; i < solver.textCount; i++)
        {
            var slot = solver.textOrder[i];
            var domain = solver.texts[slot]!;
            var variable = (AttributeVariable)slotVariables[slot];
            model.Texts[variable] = domain.Included?.Where(v => !domain.Excluded.Contains(v)).Order(StringComparer.Ordinal).First()
                ?? FreshText(domain.Excluded, variable.EnumValues);
        }

        for (var i = 0; i < solver.boolCount; i++)
        {
            var slot = solver.boolOrder[i];
            model.Bools[(AttributeVariable)slotVariables[slot]] = solver.bools[slot]!.Value;
        }

        // Attributes that must be present but have no other constraint get any value.
        for (var i = 0; i < solver.nullCount; i++)
        {
            var slot = solver.nullOrder[i];
            if (solver.isNull[slot] != false)
            {
                continue;
            }

            switch (slotVariables[slot])
            {
                case AttributeVariable { Type: ExprType.String } text when !model.Texts.ContainsKey(text):
                    model.Texts[text] = FreshText(new HashSet<string>(), text.EnumValues);
                    break;
                case AttributeVariable { Type: ExprType.Bool } flag when !model.Bools.ContainsKey(flag):
                    model.Bools[flag] = true;
                    break;
            }
        }

        return model;
    }

    /// <summary>The counts to try, in order, without repeats: the preferred one, the lowest three, the highest; all within bounds.</summary>
    private static Span<Int128> Candidates(Span<Int128> buffer, Int128 preferred, Int128 low, Int128? high)
    {
        var length = 0;
        foreach (var candidate in (ReadOnlySpan<Int128>)[preferred, low, low + 1, low + 2, high ?? low + 3])
        {
            if (candidate >= low && (high is null || candidate <= high) && candidate <= CubeModel.MaxEvents && !buffer[..length].Contains(candidate))
            {
                buffer[length++] = candidate;
            }
        }

        return buffer[..length];
    }

    private ModelOrder OrderModel()
    {
        // Filtered counts first, then unfiltered ones (the fewest events that work, but enough for the filtered events when
        // their filters exclude each other), then how many of them carry a property (as many as allowed).
        var countOrder = countNodes
            .OrderBy(p => p.Key is CountVariable { Property: not null } ? 2 : p.Key is CountVariable { Stream.FilterText: not null } ? 0 : 1)
            .ThenBy(p => p.Value)
            .Select(p => ((CountVariable)p.Key, p.Value))
            .ToArray();
        var numbers = realNodes.OrderBy(p => p.Value)
            .Select(p => (p.Key, p.Value, slots[p.Key],
                p.Key is PropertyAggregateVariable { Kind: AggregateKind.Sum } sum && realNodes.ContainsKey(sum with { Kind = AggregateKind.Avg })
                    ? slots[sum with { Kind = AggregateKind.Avg }] : -1))
            .ToArray();
        var instants = timeNodes
            .OrderBy(p => p.Key switch { NowVariable => 0, OccurrenceVariable { Kind: AggregateKind.Last } => 1, OccurrenceVariable => 2, _ => 3 })
            .ThenBy(p => p.Value)
            .Select(p => (p.Key, p.Value, slots.GetValueOrDefault(p.Key, -1)))
            .ToArray();
        var texts = slotVariables.Count(v => v is AttributeVariable { Type: ExprType.String });
        var bools = slotVariables.Count(v => v is AttributeVariable { Type: ExprType.Bool });
        return new ModelOrder(countOrder, numbers, instants, texts, bools);
    }

    /// <summary>A declared enum value outside <paramref name="excluded"/> if there is one, else a made-up string.</summary>
    private static string FreshText(IReadOnlySet<string> excluded, IReadOnlyList<string>? enumValues)
    {
        if (enumValues?.FirstOrDefault(v => !excluded.Contains(v)) is { } declared)
        {
            return declared;
        }

        var candidate = "other";
        for (var i = 2; excluded.Contains(candidate); i++)
        {
            candidate = "other" + i;
        }

        return candidate;
    }
}
