namespace Segmentation.Rules.Language;

/// <summary>
/// Checks an expression against the attribute schema. Reports every problem it finds rather than stopping at the first,
/// and keeps going with <see cref="ExprType.Any"/> after an error so one mistake does not cascade.
/// </summary>
public sealed class TypeChecker
{
    private readonly IReadOnlyDictionary<string, AttributeType> attributes;
    private readonly List<ExpressionError> errors = [];

    private TypeChecker(IReadOnlyDictionary<string, AttributeType> attributes) => this.attributes = attributes;

    public static IReadOnlyList<ExpressionError> CheckCondition(Expr expr, IReadOnlyDictionary<string, AttributeType> attributes)
    {
        var checker = new TypeChecker(attributes);
        var type = checker.Check(expr, insideFilter: false);
        if (type.Type is not (ExprType.Bool or ExprType.Any))
        {
            checker.Error(expr, $"a condition must be true or false, but this is a {Describe(type)}");
        }

        return checker.errors;
    }

    private void Error(Expr at, string message) => errors.Add(new ExpressionError(at.Span.Start, message));

    private static string Describe(AttributeType type) => type.EnumValues is null ? type.Type.ToString().ToLowerInvariant() : "string";

    private static readonly AttributeType Bool = new(ExprType.Bool);
    private static readonly AttributeType Number = new(ExprType.Number);
    private static readonly AttributeType Text = new(ExprType.String);
    private static readonly AttributeType Timestamp = new(ExprType.Timestamp);
    private static readonly AttributeType Duration = new(ExprType.Duration);
    private static readonly AttributeType Any = new(ExprType.Any);

    private AttributeType Check(Expr expr, bool insideFilter) => expr switch
    {
        NumberLiteral => Number,
        StringLiteral => Text,
        BoolLiteral => Bool,
        DurationLiteral => Duration,
        TimestampLiteral => Timestamp,
        NowExpr now => insideFilter ? FilterOnly(now, "`now`") : Timestamp,
        NameRef name => CheckName(name, insideFilter),
        EventPropertyRef property => Fail(property,
            $"`{property.EventType}.{property.Property}` reads an event property outside an aggregate; expected sum|min|max|avg({property.EventType}.{property.Property}[, window])"),
        EventAggregate aggregate => insideFilter ? FilterOnly(aggregate, "aggregates") : CheckAggregate(aggregate),
        Since since => insideFilter ? FilterOnly(since, "days_since/hours_since") : CheckSince(since),
        Binary binary => CheckBinary(binary, insideFilter),
        Logical logical => CheckLogical(logical, insideFilter),
        Not not => CheckNot(not, insideFilter),
        Negate negate => CheckNegate(negate, insideFilter),
        InList inList => CheckInList(inList, insideFilter),
        IsNull isNull => CheckIsNull(isNull, insideFilter),
        _ => throw new InvalidOperationException($"unknown expression node {expr.GetType().Name}"),
    };

    private AttributeType Fail(Expr at, string message)
    {
        Error(at, message);
        return Any;
    }

    private AttributeType FilterOnly(Expr at, string what) =>
        Fail(at, $"{what} cannot be used inside `where`; a filter may only compare the event's properties with literals");

    private AttributeType CheckName(NameRef name, bool insideFilter)
    {
        if (insideFilter)
        {
            return Any;
        }

        if (attributes.TryGetValue(name.Name, out var type))
        {
            return type;
        }

        var known = attributes.Count == 0 ? "no attributes are declared" : "expected one of " + string.Join(", ", attributes.Keys.Order(StringComparer.Ordinal));
        return Fail(name, $"unknown attribute `{name.Name}`; {known}");
    }

    private AttributeType CheckAggregate(EventAggregate aggregate)
    {
        if (attributes.ContainsKey(aggregate.EventType))
        {
            Error(aggregate, $"`{aggregate.EventType}` is an attribute, but {Function(aggregate.Kind)} expects an event type");
        }

        var needsProperty = aggregate.Kind is AggregateKind.Sum or AggregateKind.Min or AggregateKind.Max or AggregateKind.Avg;
        if (needsProperty && aggregate.Property is null)
        {
            Error(aggregate, $"{Function(aggregate.Kind)} expects Event.property, e.g. {Function(aggregate.Kind)}({aggregate.EventType}.amount)");
        }
        else if (!needsProperty && aggregate.Property is not null)
        {
            Error(aggregate, $"{Function(aggregate.Kind)} expects an event type, not the property `{aggregate.EventType}.{aggregate.Property}`");
        }

        if (aggregate.Window is { } window)
        {
            if (aggregate.Kind is AggregateKind.First or AggregateKind.Last)
            {
                Error(window, $"{Function(aggregate.Kind)} takes no window");
            }
            else if (window.Value <= TimeSpan.Zero)
            {
                Error(window, "expected a window longer than zero, such as 30d");
            }
        }

        if (aggregate.Filter is { } filter)
        {
            var filterType = Check(filter, insideFilter: true);
            if (filterType.Type is not (ExprType.Bool or ExprType.Any))
            {
                Error(filter, $"a `where` filter must be true or false, but this is a {Describe(filterType)}");
            }
        }

        return aggregate.Kind switch
        {
            AggregateKind.Count or AggregateKind.Sum or AggregateKind.Min or AggregateKind.Max or AggregateKind.Avg => Number,
            _ => Timestamp,
        };
    }

    private static string Function(AggregateKind kind) => kind.ToString().ToLowerInvariant();

    private AttributeType CheckSince(Since since)
    {
        var time = Check(since.Time, insideFilter: false);
        if (time.Type is not (ExprType.Timestamp or ExprType.Any))
        {
            Error(since.Time, $"expected a timestamp, such as first(SignedUp), but found a {Describe(time)}");
        }

        return Number;
    }

    private AttributeType CheckBinary(Binary binary, bool insideFilter)
    {
        var left = Check(binary.Left, insideFilter);
        var right = Check(binary.Right, insideFilter);
        if (left.Type == ExprType.Any || right.Type == ExprType.Any)
        {
            return IsComparison(binary.Operator) ? Bool : Any;
        }

        switch (binary.Operator)
        {
            case BinaryOperator.Equal or BinaryOperator.NotEqual:
                if (left.Type != right.Type)
                {
                    return Fail(binary, $"cannot compare a {Describe(left)} with a {Describe(right)}");
                }

                CheckEnumLiteral(left, binary.Right);
                CheckEnumLiteral(right, binary.Left);
                return Bool;
            case BinaryOperator.Less or BinaryOperator.LessOrEqual or BinaryOperator.Greater or BinaryOperator.GreaterOrEqual:
                if (left.Type != right.Type || left.Type is ExprType.Bool)
                {
                    return Fail(binary, $"cannot order a {Describe(left)} against a {Describe(right)}; expected two numbers, timestamps, durations or strings");
                }

                return Bool;
            default:
                return CheckArithmetic(binary, left, right);
        }
    }

    private static bool IsComparison(BinaryOperator op) => op is not (BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide);

    private AttributeType CheckArithmetic(Binary binary, AttributeType left, AttributeType right)
    {
        var op = binary.Operator;
        if (left.Type == ExprType.Number && right.Type == ExprType.Number)
        {
            return Number;
        }

        if (op is BinaryOperator.Add or BinaryOperator.Subtract)
        {
            if (left.Type == ExprType.Timestamp && right.Type == ExprType.Duration)
            {
                return Timestamp;
            }

            if (op == BinaryOperator.Add && left.Type == ExprType.Duration && right.Type == ExprType.Timestamp)
            {
                return Timestamp;
            }

            if (left.Type == ExprType.Duration && right.Type == ExprType.Duration)
            {
                return Duration;
            }
        }

        return Fail(binary, $"cannot apply `{Symbol(op)}` to a {Describe(left)} and a {Describe(right)}; expected numbers, or a timestamp and a duration");
    }

    private static string Symbol(BinaryOperator op) => op switch
    {
        BinaryOperator.Add => "+",
        BinaryOperator.Subtract => "-",
        BinaryOperator.Multiply => "*",
        _ => "/",
    };

    private void CheckEnumLiteral(AttributeType type, Expr other)
    {
        if (type.EnumValues is { } values && other is StringLiteral literal && !values.Contains(literal.Value, StringComparer.Ordinal))
        {
            Error(literal, $"\"{literal.Value}\" is not one of the enum values; expected one of {string.Join(", ", values)}");
        }
    }

    private AttributeType CheckLogical(Logical logical, bool insideFilter)
    {
        RequireBool(logical.Left, insideFilter);
        RequireBool(logical.Right, insideFilter);
        return Bool;
    }

    private AttributeType CheckNot(Not not, bool insideFilter)
    {
        RequireBool(not.Operand, insideFilter);
        return Bool;
    }

    private void RequireBool(Expr operand, bool insideFilter)
    {
        var type = Check(operand, insideFilter);
        if (type.Type is not (ExprType.Bool or ExprType.Any))
        {
            Error(operand, $"expected true or false, but this is a {Describe(type)}");
        }
    }

    private AttributeType CheckNegate(Negate negate, bool insideFilter)
    {
        var type = Check(negate.Operand, insideFilter);
        return type.Type is ExprType.Number or ExprType.Duration or ExprType.Any
            ? type
            : Fail(negate, $"cannot negate a {Describe(type)}; expected a number or a duration");
    }

    private AttributeType CheckInList(InList inList, bool insideFilter)
    {
        var value = Check(inList.Value, insideFilter);
        foreach (var item in inList.Items)
        {
            if (item is not (NumberLiteral or StringLiteral or BoolLiteral or DurationLiteral or TimestampLiteral))
            {
                Error(item, "expected a literal (number, string, boolean, duration or timestamp) in the list");
                continue;
            }

            var itemType = Check(item, insideFilter);
            if (value.Type != ExprType.Any && itemType.Type != value.Type)
            {
                Error(item, $"expected a {Describe(value)} in the list, found a {Describe(itemType)}");
            }
            else
            {
                CheckEnumLiteral(value, item);
            }
        }

        return Bool;
    }

    private AttributeType CheckIsNull(IsNull isNull, bool insideFilter)
    {
        Check(isNull.Value, insideFilter);
        return Bool;
    }
}
