using System.Globalization;
using System.Runtime.InteropServices;
using Segmentation.Rules.Language;
using Segmentation.Rules.Membership;

namespace Segmentation.Rules.Evaluation;

/// <summary>Per-evaluation scratch: the customer, the evaluation instant and the earliest instant the result may change.</summary>
internal sealed class EvaluationContext
{
    public CustomerState State { get; private set; } = null!;

    public long Now { get; private set; }

    public long NextChange { get; private set; } = long.MaxValue;

    /// <summary>The event a <c>where</c> filter is looking at.</summary>
    public CustomerEvent? Current { get; set; }

    public void Start(CustomerState state, long now)
    {
        State = state;
        Now = now;
        NextChange = long.MaxValue;
        Current = null;
    }

    public void ResetNextChange() => NextChange = long.MaxValue;

    public void ChangesAt(long ticks)
    {
        if (ticks > Now && ticks < NextChange)
        {
            NextChange = ticks;
        }
    }
}

internal delegate Value Evaluator(EvaluationContext context);

/// <summary>A compiled expression node, kept as a tree so explain can show every sub-expression's value.</summary>
internal sealed record CompiledNode(Expr Node, Evaluator Evaluate, IReadOnlyList<CompiledNode> Children);

/// <summary>Compiles the AST into closures over <see cref="EvaluationContext"/>; values are structs, so evaluation does not allocate.</summary>
internal sealed class ExpressionCompiler(IReadOnlyDictionary<string, AttributeType> attributes)
{
    private static readonly ExpressionCompiler FilterCompiler = new(new Dictionary<string, AttributeType>());

    public CompiledNode Compile(Expr expr) => expr switch
    {
        NumberLiteral n => Constant(expr, Value.FromNumber(n.Value)),
        StringLiteral s => Constant(expr, Value.FromString(s.Value)),
        BoolLiteral b => Constant(expr, Value.FromBool(b.Value)),
        DurationLiteral d => Constant(expr, Value.FromDuration(d.Value)),
        TimestampLiteral t => Constant(expr, Value.FromTimestamp(t.Value)),
        NowExpr => Leaf(expr, ctx => Value.FromTimestampTicks(ctx.Now)),
        NameRef name => CompileName(name),
        EventAggregate aggregate => Leaf(expr, WithRunningTotal(aggregate, CompileAggregate(aggregate))),
        Since since => CompileSince(since),
        Binary binary => CompileBinary(binary),
        Logical logical => CompileLogical(logical),
        Not not => CompileNot(not),
        Negate negate => CompileNegate(negate),
        InList inList => CompileInList(inList),
        IsNull isNull => CompileIsNull(isNull),
        _ => throw new InvalidOperationException($"cannot compile {expr.GetType().Name}; the ruleset was not type-checked"),
    };

    private static CompiledNode Leaf(Expr expr, Evaluator evaluate) => new(expr, evaluate, []);

    private static CompiledNode Constant(Expr expr, Value value) => Leaf(expr, _ => value);

    /// <summary>True when the expression is <c>now</c> shifted by a fixed duration, so it moves with the clock.</summary>
    internal static bool IsNowAffine(Expr expr) => expr switch
    {
        NowExpr => true,
        Binary { Operator: BinaryOperator.Add or BinaryOperator.Subtract } b when IsNowAffine(b.Left) && !ReadsNow(b.Right) => true,
        Binary { Operator: BinaryOperator.Add } b when IsNowAffine(b.Right) && !ReadsNow(b.Left) => true,
        _ => false,
    };

    private static bool ReadsNow(Expr expr) => expr.DescendantsAndSelf().Any(e => e is NowExpr);

    private CompiledNode CompileName(NameRef name)
    {
        var key = name.Name;
        if (!attributes.TryGetValue(key, out var type))
        {
            // Inside a where filter a bare name is a property of the event being filtered.
            return Leaf(name, ctx => ctx.Current is { } current && current.Properties.TryGetValue(key, out var value) ? value : Value.Null);
        }

        var target = type.Type;
        return Leaf(name, ctx => ctx.State.Attributes.TryGetValue(key, out var stored) ? Coerce(stored.Value, target) : Value.Null);
    }

    /// <summary>An attribute holding a value of the wrong JSON type reads as null; timestamps arrive as ISO strings.</summary>
    internal static Value Coerce(Value value, ExprType target) => target switch
    {
        ExprType.Number when value.Kind == ValueKind.Number => value,
        ExprType.String when value.Kind == ValueKind.String => value,
        ExprType.Bool when value.Kind == ValueKind.Bool => value,
        ExprType.Timestamp when value.Kind == ValueKind.Timestamp => value,
        ExprType.Timestamp when value.Kind == ValueKind.String
            && DateTimeOffset.TryParse(value.AsString, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) => Value.FromTimestamp(parsed),
        _ => Value.Null,
    };

    /// <summary>
    /// An all-time aggregate reads its running total where the state keeps one (a bounded state); a state that keeps its
    /// whole history (no <see cref="CustomerState.Retention"/>) is read event by event.
    /// </summary>
    private static Evaluator WithRunningTotal(EventAggregate aggregate, Evaluator fromHistory)
    {
        if (RunningKeys.Of(aggregate) is not { } key)
        {
            return fromHistory;
        }

        var kind = aggregate.Kind;
        return ctx =>
        {
            if (ctx.State.Retention is not { } retention || !retention.Tracks(key))
            {
                return fromHistory(ctx);
            }

            if (!ctx.State.Running.TryGetValue(key, out var total))
            {
                return kind is AggregateKind.Count or AggregateKind.Sum ? Value.FromNumber(0) : Value.Null;
            }

            return kind switch
            {
                AggregateKind.First => total.FirstTicks is { } first ? Value.FromTimestampTicks(first) : Value.Null,
                AggregateKind.Last => total.LastTicks is { } last ? Value.FromTimestampTicks(last) : Value.Null,
                AggregateKind.Min => total.Min is { } min ? Value.FromNumber(min) : Value.Null,
                AggregateKind.Max => total.Max is { } max ? Value.FromNumber(max) : Value.Null,
                _ => Aggregate(kind, (int)total.Count, total.Sum, double.NaN),
            };
        };
    }

    private Evaluator CompileAggregate(EventAggregate aggregate)
    {
        var eventType = aggregate.EventType;
        var kind = aggregate.Kind;
        var property = aggregate.Property;
        var window = aggregate.Window?.Value.Ticks ?? 0;
        // Inside a filter every bare name is a property of the filtered event, so it compiles without the attribute schema.
        var filter = aggregate.Filter is null ? null : FilterCompiler.Compile(aggregate.Filter).Evaluate;

        return kind switch
        {
            AggregateKind.First or AggregateKind.Last => ctx =>
            {
                if (!ctx.State.EventsByType.TryGetValue(eventType, out var list))
                {
                    return Value.Null;
                }

                var ticks = EventColumns.For(ctx.State, eventType, list).Ticks;
                var end = EventColumns.CountUpTo(ticks, ctx.Now);
                if (filter is null)
                {
                    return end == 0 ? Value.Null : Value.FromTimestampTicks(ticks[kind == AggregateKind.First ? 0 : end - 1]);
                }

                var events = CollectionsMarshal.AsSpan(list);
                var step = kind == AggregateKind.First ? 1 : -1;
                for (var i = kind == AggregateKind.First ? 0 : end - 1; i >= 0 && i < end; i += step)
                {
                    if (Matches(ctx, filter, events[i]))
                    {
                        return Value.FromTimestampTicks(events[i].OccurredAt.UtcTicks);
                    }
                }

                return Value.Null;
            },
            _ when filter is null => ctx =>
            {
                if (!ctx.State.EventsByType.TryGetValue(eventType, out var list))
                {
                    return kind is AggregateKind.Count or AggregateKind.Sum ? Value.FromNumber(0) : Value.Null;
                }

                // Without a filter the window is a range of a contiguous column: two binary searches, then the values.
                var columns = EventColumns.For(ctx.State, eventType, list);
                if (property is null)
                {
                    // Every event in the window counts: only the first one to leave it matters for the next change.
                    var ticks = columns.Ticks;
                    var end = EventColumns.CountUpTo(ticks, ctx.Now);
                    var start = window > 0 ? EventColumns.CountUpTo(ticks, ctx.Now - window) : 0;
                    if (window > 0 && end > start)
                    {
                        ctx.ChangesAt(ticks[start] + window);
                    }

                    return Aggregate(kind, end - start, end - start, 1.0);
                }

                var column = columns.Property(property);
                var propertyTicks = column.Ticks;
                var last = EventColumns.CountUpTo(propertyTicks, ctx.Now);
                var first = window > 0 ? EventColumns.CountUpTo(propertyTicks, ctx.Now - window) : 0;
                if (window > 0 && last > first)
                {
                    // The earliest counted event is the first to leave the window (now - W, now].
                    ctx.ChangesAt(propertyTicks[first] + window);
                }

                if (kind is AggregateKind.Sum or AggregateKind.Avg or AggregateKind.Count && column.Exact)
                {
                    return Aggregate(kind, last - first, column.Sum(first, last), double.NaN);
                }

                var values = column.Values[first..last];
                var total = 0.0;
                var extreme = kind == AggregateKind.Min ? double.PositiveInfinity : double.NegativeInfinity;
                foreach (var amount in values)
                {
                    total += amount;
                    extreme = kind == AggregateKind.Min ? Math.Min(extreme, amount) : Math.Max(extreme, amount);
                }

                return Aggregate(kind, values.Length, total, extreme);
            },
            _ => ctx =>
            {
                if (!ctx.State.EventsByType.TryGetValue(eventType, out var list))
                {
                    return kind is AggregateKind.Count or AggregateKind.Sum ? Value.FromNumber(0) : Value.Null;
                }

                // A where filter looks at each event of the window.
                var ticks = EventColumns.For(ctx.State, eventType, list).Ticks;
                var events = CollectionsMarshal.AsSpan(list);
                var end = EventColumns.CountUpTo(ticks, ctx.Now);
                var start = window > 0 ? EventColumns.CountUpTo(ticks, ctx.Now - window) : 0;
                var included = 0;
                var total = 0.0;
                var extreme = kind == AggregateKind.Min ? double.PositiveInfinity : double.NegativeInfinity;
                var earliestIncluded = long.MaxValue;
                for (var i = start; i < end; i++)
                {
                    var e = events[i];
                    if (!Matches(ctx, filter, e))
                    {
                        continue;
                    }

                    var amount = 1.0;
                    if (property is not null)
                    {
                        if (!e.Properties.TryGetValue(property, out var propertyValue) || propertyValue.Kind != ValueKind.Number)
                        {
                            continue;
                        }

                        amount = propertyValue.AsNumber;
                    }

                    if (included == 0)
                    {
                        earliestIncluded = ticks[i];
                    }

                    included++;
                    total += amount;
                    extreme = kind == AggregateKind.Min ? Math.Min(extreme, amount) : Math.Max(extreme, amount);
                }

                if (window > 0 && included > 0)
                {
                    // The earliest counted event is the first to leave the window (now - W, now].
                    ctx.ChangesAt(earliestIncluded + window);
                }

                return Aggregate(kind, included, total, extreme);
            },
        };
    }

    /// <summary>The aggregate's value from what the window held: count/sum of nothing is 0, min/max/avg of nothing null.</summary>
    private static Value Aggregate(AggregateKind kind, int included, double total, double extreme) => kind switch
    {
        AggregateKind.Count => Value.FromNumber(included),
        AggregateKind.Sum => Value.FromNumber(total),
        _ when included == 0 => Value.Null,
        AggregateKind.Avg => Value.FromNumber(total / included),
        _ => Value.FromNumber(extreme),
    };

    internal static Evaluator CompileFilter(Expr filter) => FilterCompiler.Compile(filter).Evaluate;

    internal static bool Matches(EvaluationContext ctx, Evaluator? filter, CustomerEvent e)
    {
        if (filter is null)
        {
            return true;
        }

        ctx.Current = e;
        var matches = filter(ctx).AsBool;
        ctx.Current = null;
        return matches;
    }

    private CompiledNode CompileSince(Since since, bool reportsItsChanges = true)
    {
        var time = Compile(since.Time);
        var evaluateTime = time.Evaluate;
        var unit = SinceUnitTicks(since);
        var movesWithClock = IsNowAffine(since.Time);
        return new CompiledNode(since, ctx =>
        {
            var t = evaluateTime(ctx);
            if (t.Kind != ValueKind.Timestamp)
            {
                return Value.Null;
            }

            var whole = FloorDivide(ctx.Now - t.Ticks, unit);
            if (!movesWithClock && reportsItsChanges)
            {
                ctx.ChangesAt(t.Ticks + ((whole + 1) * unit));
            }

            return Value.FromNumber(whole);
        }, [time]);
    }

    private static long SinceUnitTicks(Since since) => since.Unit == SinceUnit.Days ? TimeSpan.TicksPerDay : TimeSpan.TicksPerHour;

    /// <summary>
    /// <c>days_since(t) &gt;= 3</c> and the like: the count of whole days grows every day, but the comparison with a
    /// constant flips at most twice (<c>==</c>) or once, so the next change is the day the threshold is crossed, not
    /// the next midnight of <c>t</c>. Without this every customer with such a rule would be due again every day.
    /// </summary>
    private CompiledNode? CompileSinceComparison(Binary binary)
    {
        var (since, limit, op) = binary switch
        {
            { Left: Since s, Right: NumberLiteral n } => (s, n, binary.Operator),
            { Left: NumberLiteral n, Right: Since s } => (s, n, Mirrored(binary.Operator)),
            _ => (null, null, binary.Operator),
        };
        if (since is null || limit is null || IsNowAffine(since.Time) || op is BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide)
        {
            return null;
        }

        var sinceNode = CompileSince(since, reportsItsChanges: false);
        var limitNode = Compile(limit);
        var evaluateTime = sinceNode.Children[0].Evaluate;
        var unit = SinceUnitTicks(since);
        var k = Value.FromNumber(limit.Value);
        long[] breakpoints = [(long)Math.Floor(limit.Value), (long)Math.Floor(limit.Value) + 1, (long)Math.Ceiling(limit.Value), (long)Math.Ceiling(limit.Value) + 1];
        return new CompiledNode(binary, ctx =>
        {
            var t = evaluateTime(ctx);
            if (t.Kind != ValueKind.Timestamp)
            {
                return Value.False;
            }

            var whole = FloorDivide(ctx.Now - t.Ticks, unit);
            var holds = Compare(op, Value.FromNumber(whole), k);
            foreach (var crossing in breakpoints)
            {
                if (crossing > whole && Compare(op, Value.FromNumber(crossing), k) != holds)
                {
                    ctx.ChangesAt(t.Ticks + (crossing * unit));
                }
            }

            return Value.FromBool(holds);
        }, binary.Left is Since ? [sinceNode, limitNode] : [limitNode, sinceNode]);
    }

    private static BinaryOperator Mirrored(BinaryOperator op) => op switch
    {
        BinaryOperator.Less => BinaryOperator.Greater,
        BinaryOperator.LessOrEqual => BinaryOperator.GreaterOrEqual,
        BinaryOperator.Greater => BinaryOperator.Less,
        BinaryOperator.GreaterOrEqual => BinaryOperator.LessOrEqual,
        _ => op,
    };

    internal static long FloorDivide(long dividend, long divisor)
    {
        var quotient = dividend / divisor;
        return dividend % divisor != 0 && dividend < 0 ? quotient - 1 : quotient;
    }

    private CompiledNode CompileBinary(Binary binary)
    {
        var left = Compile(binary.Left);
        var right = Compile(binary.Right);
        var l = left.Evaluate;
        var r = right.Evaluate;
        var op = binary.Operator;
        if (op is BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide)
        {
            return new CompiledNode(binary, ctx => Arithmetic(op, l(ctx), r(ctx)), [left, right]);
        }

        if (CompileSinceComparison(binary) is { } sinceComparison)
        {
            return sinceComparison;
        }

        var leftMoves = IsNowAffine(binary.Left);
        var rightMoves = IsNowAffine(binary.Right);
        return new CompiledNode(binary, ctx =>
        {
            var a = l(ctx);
            var b = r(ctx);
            if (a.IsNull || b.IsNull)
            {
                return Value.False;
            }

            if (leftMoves != rightMoves && a.Kind == ValueKind.Timestamp && b.Kind == ValueKind.Timestamp)
            {
                // One side moves with the clock: the comparison flips when the two meet (and one tick later for strict ones).
                var meet = ctx.Now + (leftMoves ? b.Ticks - a.Ticks : a.Ticks - b.Ticks);
                ctx.ChangesAt(meet);
                ctx.ChangesAt(meet + 1);
            }

            return Value.FromBool(Compare(op, a, b));
        }, [left, right]);
    }

    /// <summary>Comparison of two non-null values; values of different kinds are never equal nor ordered.</summary>
    internal static bool Compare(BinaryOperator op, Value a, Value b)
    {
        if (a.Kind != b.Kind || a.IsNull)
        {
            return false;
        }

        int order;
        switch (a.Kind)
        {
            case ValueKind.Number:
                if (double.IsNaN(a.AsNumber) || double.IsNaN(b.AsNumber))
                {
                    return false;
                }

                order = a.AsNumber.CompareTo(b.AsNumber);
                break;
            case ValueKind.String:
                order = string.CompareOrdinal(a.AsString, b.AsString);
                break;
            case ValueKind.Bool:
                return op switch
                {
                    BinaryOperator.Equal => a.AsBool == b.AsBool,
                    BinaryOperator.NotEqual => a.AsBool != b.AsBool,
                    _ => false,
                };
            default:
                order = a.Ticks.CompareTo(b.Ticks);
                break;
        }

        return op switch
        {
            BinaryOperator.Equal => order == 0,
            BinaryOperator.NotEqual => order != 0,
            BinaryOperator.Less => order < 0,
            BinaryOperator.LessOrEqual => order <= 0,
            BinaryOperator.Greater => order > 0,
            _ => order >= 0,
        };
    }

    /// <summary>Arithmetic; null in, null out. Division by zero is null rather than infinity.</summary>
    internal static Value Arithmetic(BinaryOperator op, Value a, Value b)
    {
        if (a.Kind == ValueKind.Number && b.Kind == ValueKind.Number)
        {
            return op switch
            {
                BinaryOperator.Add => Value.FromNumber(a.AsNumber + b.AsNumber),
                BinaryOperator.Subtract => Value.FromNumber(a.AsNumber - b.AsNumber),
                BinaryOperator.Multiply => Value.FromNumber(a.AsNumber * b.AsNumber),
                _ => b.AsNumber == 0 ? Value.Null : Value.FromNumber(a.AsNumber / b.AsNumber),
            };
        }

        return (a.Kind, b.Kind, op) switch
        {
            (ValueKind.Timestamp, ValueKind.Duration, BinaryOperator.Add) => Value.FromTimestampTicks(a.Ticks + b.Ticks),
            (ValueKind.Timestamp, ValueKind.Duration, BinaryOperator.Subtract) => Value.FromTimestampTicks(a.Ticks - b.Ticks),
            (ValueKind.Duration, ValueKind.Timestamp, BinaryOperator.Add) => Value.FromTimestampTicks(a.Ticks + b.Ticks),
            (ValueKind.Duration, ValueKind.Duration, BinaryOperator.Add) => Value.FromDuration(new TimeSpan(a.Ticks + b.Ticks)),
            (ValueKind.Duration, ValueKind.Duration, BinaryOperator.Subtract) => Value.FromDuration(new TimeSpan(a.Ticks - b.Ticks)),
            _ => Value.Null,
        };
    }

    private CompiledNode CompileLogical(Logical logical)
    {
        var left = Compile(logical.Left);
        var right = Compile(logical.Right);
        var l = left.Evaluate;
        var r = right.Evaluate;
        // Short-circuiting is also right for change times: while the left side decides, only its changes matter.
        Evaluator evaluate = logical.Operator == LogicalOperator.And
            ? ctx => l(ctx).AsBool ? Value.FromBool(r(ctx).AsBool) : Value.False
            : ctx => l(ctx).AsBool ? Value.True : Value.FromBool(r(ctx).AsBool);
        return new CompiledNode(logical, evaluate, [left, right]);
    }

    private CompiledNode CompileNot(Not not)
    {
        var operand = Compile(not.Operand);
        var evaluate = operand.Evaluate;
        return new CompiledNode(not, ctx => Value.FromBool(!evaluate(ctx).AsBool), [operand]);
    }

    private CompiledNode CompileNegate(Negate negate)
    {
        var operand = Compile(negate.Operand);
        var evaluate = operand.Evaluate;
        return new CompiledNode(negate, ctx =>
        {
            var value = evaluate(ctx);
            return value.Kind switch
            {
                ValueKind.Number => Value.FromNumber(-value.AsNumber),
                ValueKind.Duration => Value.FromDuration(-value.AsDuration),
                _ => Value.Null,
            };
        }, [operand]);
    }

    private CompiledNode CompileInList(InList inList)
    {
        var operand = Compile(inList.Value);
        var evaluate = operand.Evaluate;
        var items = inList.Items.Select(item => Compile(item).Evaluate(new EvaluationContext())).ToArray();
        var negated = inList.Negated;
        return new CompiledNode(inList, ctx =>
        {
            var value = evaluate(ctx);
            if (value.IsNull)
            {
                return Value.False;
            }

            var found = Array.IndexOf(items, value) >= 0;
            return Value.FromBool(found != negated);
        }, [operand]);
    }

    private CompiledNode CompileIsNull(IsNull isNull)
    {
        var operand = Compile(isNull.Value);
        var evaluate = operand.Evaluate;
        var negated = isNull.Negated;
        return new CompiledNode(isNull, ctx => Value.FromBool(evaluate(ctx).IsNull != negated), [operand]);
    }
}
