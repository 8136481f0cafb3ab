using System.Globalization;
using Segmentation.Rules.Language;

namespace Segmentation.Rules.Conflicts;

/// <summary>
/// The events an aggregate looks at: one event type, optionally narrowed by a <c>where</c> filter. Two streams are the
/// same when their filters print the same (<see cref="CanonicalText"/>), wherever and however they were written.
/// </summary>
internal sealed record EventStream(string EventType, string? FilterText)
{
    // Streams are in nearly every variable, and variables key the solver's dictionaries for every pair analysed: the hash
    // of the two strings is computed once (0 until then; a copy made by `with` computes its own).
    private int hash;

    private EventStream(EventStream original) => (EventType, FilterText) = (original.EventType, original.FilterText);

    public bool Equals(EventStream? other) =>
        ReferenceEquals(this, other) || (other is not null && EventType == other.EventType && FilterText == other.FilterText);

    public override int GetHashCode()
    {
        if (hash == 0)
        {
            hash = HashCode.Combine(EventType, FilterText);
        }

        return hash;
    }

    public override string ToString() => FilterText is null ? EventType : $"{EventType} where {FilterText}";
}

/// <summary>Something whose value a condition reads: an attribute or an aggregate over a customer's events.</summary>
internal abstract record Variable
{
    /// <summary>Can the variable be null? Counts and sums never are (of nothing they are 0).</summary>
    public abstract bool Nullable { get; }

    protected static string WindowText(long? windowTicks) =>
        windowTicks is { } ticks ? ", " + Evaluation.Value.FromDuration(new TimeSpan(ticks)) : string.Empty;
}

/// <summary>A profile attribute; <see cref="EnumValues"/> (the schema's own list) lets witnesses use a declared value.</summary>
internal sealed record AttributeVariable(string Name, ExprType Type, IReadOnlyList<string>? EnumValues = null) : Variable
{
    public override bool Nullable => true;

    public override string ToString() => Name;
}

/// <summary>
/// Number of events of a stream in the window (all events up to now without one). With <see cref="Property"/>, only the
/// events that carry that property as a number: the ones sum/min/max/avg see. The latter never appears in a rule; it
/// links the aggregates to the counts.
/// </summary>
internal sealed record CountVariable(EventStream Stream, long? WindowTicks, string? Property = null) : Variable
{
    public override bool Nullable => false;

    public override string ToString() => Property is null
        ? $"count({Stream}{WindowText(WindowTicks)})"
        : $"count({Stream.EventType}.{Property}{(Stream.FilterText is null ? string.Empty : " where " + Stream.FilterText)}{WindowText(WindowTicks)})";
}

/// <summary>sum/min/max/avg of a numeric event property over a stream and window.</summary>
internal sealed record PropertyAggregateVariable(AggregateKind Kind, EventStream Stream, string Property, long? WindowTicks) : Variable
{
    public override bool Nullable => Kind != AggregateKind.Sum;

    public CountVariable Carriers => new(Stream, WindowTicks, Property);

    public override string ToString() =>
        $"{Kind.ToString().ToLowerInvariant()}({Stream.EventType}.{Property}{(Stream.FilterText is null ? string.Empty : " where " + Stream.FilterText)}{WindowText(WindowTicks)})";
}

/// <summary>first(E) or last(E): the occurrence time of the earliest or latest event of a stream, null without events.</summary>
internal sealed record OccurrenceVariable(AggregateKind Kind, EventStream Stream) : Variable
{
    public override bool Nullable => true;

    public override string ToString() => $"{(Kind == AggregateKind.First ? "first" : "last")}({Stream})";
}

/// <summary>The evaluation instant, a node of the time constraints.</summary>
internal sealed record NowVariable : Variable
{
    public static readonly NowVariable Instance = new();

    public override bool Nullable => false;

    public override string ToString() => "now";
}

/// <summary>Prints an expression in one canonical form, independent of spacing and parentheses, to compare and describe.</summary>
internal static class CanonicalText
{
    public static string Of(Expr expr) => expr switch
    {
        NumberLiteral n => n.Value.ToString("R", CultureInfo.InvariantCulture),
        StringLiteral s => "\"" + s.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"",
        BoolLiteral b => b.Value ? "true" : "false",
        DurationLiteral d => Evaluation.Value.FromDuration(d.Value).ToString(),
        TimestampLiteral t => Evaluation.Value.FormatTimestamp(t.Value),
        NowExpr => "now",
        NameRef name => name.Name,
        EventPropertyRef p => $"{p.EventType}.{p.Property}",
        EventAggregate a => $"{a.Kind.ToString().ToLowerInvariant()}({a.EventType}{(a.Property is null ? string.Empty : "." + a.Property)}"
            + $"{(a.Filter is null ? string.Empty : " where " + Of(a.Filter))}{(a.Window is null ? string.Empty : ", " + Of(a.Window))})",
        Since s => $"{(s.Unit == SinceUnit.Days ? "days_since" : "hours_since")}({Of(s.Time)})",
        Binary b => $"{Operand(b.Left)} {Symbol(b.Operator)} {Operand(b.Right)}",
        Logical l => $"{Operand(l.Left)} {(l.Operator == LogicalOperator.And ? "and" : "or")} {Operand(l.Right)}",
        Not n => $"not {Operand(n.Operand)}",
        Negate n => $"-{Operand(n.Operand)}",
        InList i => $"{Operand(i.Value)} {(i.Negated ? "not in" : "in")} [{string.Join(", ", i.Items.Select(Of))}]",
        IsNull i => $"{Operand(i.Value)} is {(i.Negated ? "not " : string.Empty)}null",
        _ => expr.GetType().Name,
    };

    private static string Operand(Expr expr) => expr is Binary or Logical or Not or InList or IsNull ? $"({Of(expr)})" : Of(expr);

    public static string Symbol(BinaryOperator op) => op switch
    {
        BinaryOperator.Add => "+",
        BinaryOperator.Subtract => "-",
        BinaryOperator.Multiply => "*",
        BinaryOperator.Divide => "/",
        BinaryOperator.Equal => "==",
        BinaryOperator.NotEqual => "!=",
        BinaryOperator.Less => "<",
        BinaryOperator.LessOrEqual => "<=",
        BinaryOperator.Greater => ">",
        _ => ">=",
    };
}
