namespace Segmentation.Rules.Conflicts;

/// <summary>Concrete values chosen for the variables of a satisfiable conjunction, from which a witness history is built.</summary>
/// <remarks>The capacities are the most values of each kind the solver may choose, so that no dictionary grows.</remarks>
internal sealed class CubeModel(int numbers, int counts, int times, int texts, int bools)
{
    /// <summary>A witness needing more events than this is not built.</summary>
    public const int MaxEvents = 10_000;

    public Dictionary<Variable, double> Numbers { get; } = new(numbers);

    public Dictionary<CountVariable, int> Counts { get; } = new(counts);

    /// <summary>Instants in UTC ticks, <see cref="NowVariable"/> included.</summary>
    public Dictionary<Variable, long> Times { get; } = new(times);

    public Dictionary<AttributeVariable, string> Texts { get; } = new(texts);

    public Dictionary<AttributeVariable, bool> Bools { get; } = new(bools);

    public long Now => Times[NowVariable.Instance];

    /// <summary>
    /// The values in the order they were chosen (the order the witness builder follows), compared by value: equal keys
    /// build the same history. Numbers compare by their bits, so 0 and -0 stay apart.
    /// </summary>
    public SequenceKey<(Variable Variable, long Value, string? Text)> Key()
    {
        var values = new (Variable, long, string?)[Numbers.Count + Counts.Count + Times.Count + Texts.Count + Bools.Count];
        var next = 0;
        foreach (var (variable, number) in Numbers)
        {
            values[next++] = (variable, BitConverter.DoubleToInt64Bits(number), "number");
        }

        foreach (var (variable, count) in Counts)
        {
            values[next++] = (variable, count, "count");
        }

        foreach (var (variable, ticks) in Times)
        {
            values[next++] = (variable, ticks, "time");
        }

        foreach (var (variable, text) in Texts)
        {
            values[next++] = (variable, 0L, text);
        }

        foreach (var (variable, flag) in Bools)
        {
            values[next++] = (variable, flag ? 1L : 0L, "bool");
        }

        return new(values);
    }
}

/// <summary>
/// How to choose a value inside the bounds. The first attempt prefers the simplest values (zero, the fewest events, events
/// as recent as allowed); later attempts, seeded, spread values out to get past the cases the simple choice misses.
/// </summary>
internal sealed class ModelPreferences(int attempt)
{
    /// <summary>The evaluation instant of witnesses whenever the conditions allow it.</summary>
    public static readonly DateTimeOffset Anchor = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Random? random = attempt == 0 ? null : new Random(attempt);

    public double Real(Bound<double>? low, Bound<double>? high)
    {
        var preferred = random is null ? 0 : random.Next(-2, 3) * Math.Pow(10, random.Next(0, 4));
        if (Admits(low, high, preferred))
        {
            return preferred;
        }

        if (low is { } l && (preferred < l.Value || (preferred == l.Value && l.Strict)))
        {
            var step = random is null ? 1 : random.Next(1, 100);
            if (!l.Strict)
            {
                return l.Value;
            }

            var above = Math.Floor(l.Value) + step;
            return Admits(low, high, above) ? above : Middle(l.Value, high?.Value ?? l.Value + 2);
        }

        var h = high!.Value;
        if (!h.Strict)
        {
            return h.Value;
        }

        var below = Math.Ceiling(h.Value) - (random is null ? 1 : random.Next(1, 100));
        return Admits(low, high, below) ? below : Middle(low?.Value ?? h.Value - 2, h.Value);
    }

    private static double Middle(double a, double b) => a + ((b - a) / 2);

    private static bool Admits(Bound<double>? low, Bound<double>? high, double value) =>
        (low is not { } l || value > l.Value || (value == l.Value && !l.Strict))
        && (high is not { } h || value < h.Value || (value == h.Value && !h.Strict));

    public Int128 Count(Int128 low, Int128? high)
    {
        var value = random is null ? low : low + random.Next(0, 4);
        return high is { } h && value > h ? h : value;
    }

    /// <summary>An instant within [low, high]: the preferred one when allowed, else the nearest bound; later attempts jitter it.</summary>
    public Int128 Instant(Variable variable, Int128 preferred, Int128 low, Int128 high)
    {
        if (random is not null && variable is not NowVariable)
        {
            preferred -= random.Next(0, 100) * TimeSpan.TicksPerHour;
        }

        return preferred < low ? low : preferred > high ? high : preferred;
    }
}
