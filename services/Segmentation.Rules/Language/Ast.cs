namespace Segmentation.Rules.Language;

/// <summary>A region of an expression's source text: offset and length in characters.</summary>
public readonly record struct SourceSpan(int Start, int Length)
{
    public int End => Start + Length;

    public static SourceSpan Cover(SourceSpan first, SourceSpan last) => new(first.Start, last.End - first.Start);
}

public enum BinaryOperator { Add, Subtract, Multiply, Divide, Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual }

public enum LogicalOperator { And, Or }

public enum AggregateKind { Count, Sum, Min, Max, Avg, First, Last }

public enum SinceUnit { Days, Hours }

/// <summary>An expression of the rule language. Every node keeps the span it was parsed from.</summary>
public abstract record Expr(SourceSpan Span);

public sealed record NumberLiteral(double Value, SourceSpan Span) : Expr(Span);

public sealed record StringLiteral(string Value, SourceSpan Span) : Expr(Span);

public sealed record BoolLiteral(bool Value, SourceSpan Span) : Expr(Span);

public sealed record DurationLiteral(TimeSpan Value, SourceSpan Span) : Expr(Span);

public sealed record TimestampLiteral(DateTimeOffset Value, SourceSpan Span) : Expr(Span);

public sealed record NowExpr(SourceSpan Span) : Expr(Span);

/// <summary>A bare name: a profile attribute, or inside a <c>where</c> filter a property of the filtered event.</summary>
public sealed record NameRef(string Name, SourceSpan Span) : Expr(Span);

/// <summary><c>Event.property</c>; only meaningful as the subject of sum/min/max/avg.</summary>
public sealed record EventPropertyRef(string EventType, string Property, SourceSpan Span) : Expr(Span);

/// <summary>
/// count/sum/min/max/avg/first/last over the events of one type. <see cref="Property"/> is set for sum/min/max/avg,
/// <see cref="Window"/> restricts to occurrence times in (now - Window, now].
/// </summary>
public sealed record EventAggregate(
    AggregateKind Kind,
    string EventType,
    string? Property,
    Expr? Filter,
    DurationLiteral? Window,
    SourceSpan Span) : Expr(Span);

public sealed record Since(SinceUnit Unit, Expr Time, SourceSpan Span) : Expr(Span);

public sealed record Binary(BinaryOperator Operator, Expr Left, Expr Right, SourceSpan Span) : Expr(Span);

public sealed record Logical(LogicalOperator Operator, Expr Left, Expr Right, SourceSpan Span) : Expr(Span);

public sealed record Not(Expr Operand, SourceSpan Span) : Expr(Span);

public sealed record Negate(Expr Operand, SourceSpan Span) : Expr(Span);

public sealed record InList(Expr Value, IReadOnlyList<Expr> Items, bool Negated, SourceSpan Span) : Expr(Span);

public sealed record IsNull(Expr Value, bool Negated, SourceSpan Span) : Expr(Span);

public static class ExprTree
{
    /// <summary>The direct sub-expressions of a node, in source order (an aggregate's filter included).</summary>
    public static IEnumerable<Expr> Children(this Expr expr) => expr switch
    {
        EventAggregate { Filter: { } filter } => [filter],
        Since since => [since.Time],
        Binary binary => [binary.Left, binary.Right],
        Logical logical => [logical.Left, logical.Right],
        Not not => [not.Operand],
        Negate negate => [negate.Operand],
        InList inList => [inList.Value, .. inList.Items],
        IsNull isNull => [isNull.Value],
        _ => [],
    };

    /// <summary>The node and every node below it, in source order (pre-order).</summary>
    public static IEnumerable<Expr> DescendantsAndSelf(this Expr expr)
    {
        var pending = new Stack<Expr>();
        pending.Push(expr);
        while (pending.TryPop(out var next))
        {
            yield return next;
            foreach (var child in next.Children().Reverse())
            {
                pending.Push(child);
            }
        }
    }

    /// <summary>The first node (in source order) deeper than <paramref name="maxDepth"/> levels, the root being level 1; without recursion.</summary>
    public static Expr? FirstBeyondDepth(this Expr expr, int maxDepth)
    {
        var pending = new Stack<(Expr Node, int Depth)>();
        pending.Push((expr, 1));
        while (pending.TryPop(out var next))
        {
            if (next.Depth > maxDepth)
            {
                return next.Node;
            }

            foreach (var child in next.Node.Children().Reverse())
            {
                pending.Push((child, next.Depth + 1));
            }
        }

        return null;
    }
}

public static class ExprDependencies
{
    /// <summary>Event types a condition aggregates over.</summary>
    public static IEnumerable<string> ReadEventTypes(this Expr expr) =>
        expr.DescendantsAndSelf().OfType<EventAggregate>().Select(a => a.EventType);

    /// <summary>Attributes a condition reads; names inside <c>where</c> filters are event properties, not attributes.</summary>
    public static IEnumerable<string> ReadAttributes(this Expr expr, IReadOnlyDictionary<string, AttributeType> attributes) => expr switch
    {
        NameRef name when attributes.ContainsKey(name.Name) => [name.Name],
        EventAggregate => [],
        _ => expr.Children().SelectMany(child => child.ReadAttributes(attributes)),
    };
}
