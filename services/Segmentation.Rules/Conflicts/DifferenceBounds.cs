using System.Numerics;

namespace Segmentation.Rules.Conflicts;

/// <summary>An upper bound on a difference: <c>x - y &lt;= Value</c>, or <c>&lt;</c> when <see cref="Strict"/>.</summary>
internal readonly record struct Bound<T>(T Value, bool Strict) where T : struct, INumber<T>
{
    public static Bound<T> operator +(Bound<T> a, Bound<T> b) => new(a.Value + b.Value, a.Strict || b.Strict);

    public bool IsTighterThan(Bound<T> other) => Value < other.Value || (Value == other.Value && Strict && !other.Strict);
}

/// <summary>
/// A difference-bound matrix: constraints <c>x_i - x_j &lt;= c</c> (or &lt; c) between nodes, node 0 being the constant
/// zero, kept closed under shortest paths so each entry is the tightest bound implied. Unsatisfiable exactly when a cycle
/// is negative. For integer nodes a strict bound <c>&lt; c</c> is stored as <c>&lt;= c - 1</c>, which makes the closure exact
/// over the integers as well.
/// </summary>
internal sealed class DifferenceBounds<T> where T : struct, INumber<T>
{
    // Entry i * nodes + j bounds x_i - x_j: its value, and whether there is a bound (Unbounded, AtMost or Below). Two flat
    // arrays rather than a matrix of nullable bounds: solvers are cloned often, and this is a quarter of the memory.
    private const byte Unbounded = 0;
    private const byte AtMost = 1;
    private const byte Below = 2;

    private readonly bool integral;
    private readonly int nodes;
    private readonly T[] values;
    private readonly byte[] kinds;

    public DifferenceBounds(int nodes, bool integral)
    {
        this.integral = integral;
        this.nodes = nodes;
        values = new T[nodes * nodes];
        kinds = new byte[nodes * nodes];
        for (var i = 0; i < nodes; i++)
        {
            kinds[(i * nodes) + i] = AtMost;
        }
    }

    private DifferenceBounds(DifferenceBounds<T> other)
    {
        integral = other.integral;
        nodes = other.nodes;
        values = (T[])other.values.Clone();
        kinds = (byte[])other.kinds.Clone();
        Consistent = other.Consistent;
    }

    public int Count => nodes;

    public bool Consistent { get; private set; } = true;

    public DifferenceBounds<T> Clone() => new(this);

    /// <summary>Makes this matrix, of the same size, a copy of <paramref name="other"/>.</summary>
    public void CopyFrom(DifferenceBounds<T> other)
    {
        other.values.AsSpan().CopyTo(values);
        other.kinds.AsSpan().CopyTo(kinds);
        Consistent = other.Consistent;
    }

    /// <summary>The tightest known bound on <c>x_i - x_j</c>; null when unbounded.</summary>
    public Bound<T>? Upper(int i, int j) => At((i * nodes) + j);

    private Bound<T>? At(int entry) => kinds[entry] == Unbounded ? null : new Bound<T>(values[entry], kinds[entry] == Below);

    /// <summary>Adds <c>x_i - x_j &lt;= value</c> (&lt; when strict) and closes; returns true when this tightened anything.</summary>
    /// <remarks>
    /// The closure reads and writes the two arrays directly rather than through <see cref="Bound{T}"/> values: it is most
    /// of the solver's time, and the JIT does not keep bounds of 128-bit values in registers.
    /// </remarks>
    public bool Add(int i, int j, T value, bool strict)
    {
        if (integral && strict)
        {
            value -= T.One;
            strict = false;
        }

        var n = nodes;
        var values = this.values.AsSpan();
        var kinds = this.kinds.AsSpan();
        if (kinds[(i * n) + j] != Unbounded && !Tighter(value, strict, values[(i * n) + j], kinds[(i * n) + j]))
        {
            return false;
        }

        for (var p = 0; p < n; p++)
        {
            var toI = kinds[(p * n) + i];
            if (toI == Unbounded)
            {
                continue;
            }

            var toJ = values[(p * n) + i] + value;
            var toJStrict = toI == Below || strict;
            var row = p * n;
            for (var q = 0; q < n; q++)
            {
                var after = kinds[(j * n) + q];
                if (after == Unbounded)
                {
                    continue;
                }

                var through = toJ + values[(j * n) + q];
                var throughStrict = toJStrict || after == Below;
                var entry = row + q;
                if (kinds[entry] == Unbounded || Tighter(through, throughStrict, values[entry], kinds[entry]))
                {
                    values[entry] = through;
                    kinds[entry] = throughStrict ? Below : AtMost;
                }
            }
        }

        for (var p = 0; p < n; p++)
        {
            var diagonal = (p * n) + p;
            if (kinds[diagonal] != Unbounded && Tighter(values[diagonal], kinds[diagonal] == Below, T.Zero, AtMost))
            {
                Consistent = false;
            }
        }

        return true;
    }

    /// <summary>Whether the bound (value, strict) is tighter than the bound stored as (other, kind), a bounded kind.</summary>
    private static bool Tighter(T value, bool strict, T other, byte kind) =>
        value < other || (value == other && strict && kind != Below);

    /// <summary>Adds <c>low &lt;= x_i - x_j &lt;= high</c> with the given strictness on each side (null: unbounded).</summary>
    public bool AddRange(int i, int j, Bound<T>? low, Bound<T>? high)
    {
        var changed = false;
        if (high is { } h)
        {
            changed |= Add(i, j, h.Value, h.Strict);
        }

        if (low is { } l)
        {
            changed |= Add(j, i, -l.Value, l.Strict);
        }

        return changed;
    }

    /// <summary>Lower bound of node i against zero: <c>x_i &gt;= -upper(0, i)</c>.</summary>
    public Bound<T>? LowerOf(int i) => Upper(0, i) is { } b ? new Bound<T>(-b.Value, b.Strict) : null;

    public Bound<T>? UpperOf(int i) => Upper(i, 0);

    /// <summary>Whether <c>x_i - x_j</c> is known to be at most <paramref name="value"/>, strictly or not.</summary>
    public bool UpperAtMost(int i, int j, T value)
    {
        var entry = (i * nodes) + j;
        return kinds[entry] != Unbounded && values[entry] <= value;
    }

    /// <summary>Whether node i is known to be at most <paramref name="value"/>, strictly or not.</summary>
    public bool UpperOfAtMost(int i, T value) => UpperAtMost(i, 0, value);

    /// <summary>Whether node i is known to be at least <paramref name="value"/>, strictly or not.</summary>
    public bool LowerOfAtLeast(int i, T value) => kinds[i] != Unbounded && -values[i] >= value;

    /// <summary>Nodes lying on a negative cycle, to say what contradicts what.</summary>
    public IEnumerable<int> NodesOnNegativeCycles()
    {
        for (var p = 0; p < Count; p++)
        {
            if (Upper(p, p) is { } diagonal && diagonal.IsTighterThan(new Bound<T>(T.Zero, false)))
            {
                yield return p;
            }
        }
    }
}
