using System.Globalization;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;

namespace Segmentation.Rules.Conflicts;

/// <summary>
/// A condition (or its negation) as a disjunction of conjunctions of atoms. The form over-approximates: a construct the
/// analysis does not reason about is read as "true" whichever way it is negated, and is listed in
/// <see cref="Approximations"/>. Hence an empty intersection proves disjointness, while a non-empty one proves nothing
/// until a witness confirms it.
/// </summary>
internal sealed record NormalForm(IReadOnlyList<IReadOnlyList<Atom>> Cubes, IReadOnlyList<string> Approximations);

/// <summary>Pushes negation to the atoms (De Morgan; a comparison's negation also admits its operands being null) and multiplies out.</summary>
internal sealed class ConditionNormalizer
{
    /// <summary>Beyond this many alternatives a condition is approximated by "true" rather than multiplied out.</summary>
    public const int MaxCubes = 512;

    private static readonly long DayTicks = TimeSpan.TicksPerDay;

    private readonly IReadOnlyDictionary<string, AttributeType> attributes;
    private readonly List<string> approximations = [];

    private ConditionNormalizer(IReadOnlyDictionary<string, AttributeType> attributes) => this.attributes = attributes;

    public static NormalForm Normalize(Expr condition, IReadOnlyDictionary<string, AttributeType> attributes, bool negated = false)
    {
        var normalizer = new ConditionNormalizer(attributes);
        try
        {
            var cubes = normalizer.Convert(condition, !negated);
            return new NormalForm(cubes, normalizer.approximations.Distinct(StringComparer.Ordinal).ToList());
        }
        catch (TooManyAlternativesException)
        {
            return new NormalForm(True, [$"`{CanonicalText.Of(condition)}` has more than {MaxCubes} alternatives once multiplied out"]);
        }
    }

    private sealed class TooManyAlternativesException : Exception;

    private static readonly IReadOnlyList<IReadOnlyList<Atom>> True = [[]];
    private static readonly IReadOnlyList<IReadOnlyList<Atom>> False = [];

    private static IReadOnlyList<IReadOnlyList<Atom>> Single(params Atom[] atoms) => [atoms];

    private static IReadOnlyList<IReadOnlyList<Atom>> Or(params IReadOnlyList<IReadOnlyList<Atom>>[] parts)
    {
        var cubes = parts.SelectMany(p => p).ToList();
        return cubes.Count > MaxCubes ? throw new TooManyAlternativesException() : cubes;
    }

    private static IReadOnlyList<IReadOnlyList<Atom>> And(IReadOnlyList<IReadOnlyList<Atom>> left, IReadOnlyList<IReadOnlyList<Atom>> right)
    {
        if ((long)left.Count * right.Count > MaxCubes)
        {
            throw new TooManyAlternativesException();
        }

        var cubes = new List<IReadOnlyList<Atom>>(left.Count * right.Count);
        foreach (var l in left)
        {
            foreach (var r in right)
            {
                cubes.Add(l.Concat(r).Distinct().ToList());
            }
        }

        return cubes;
    }

    private IReadOnlyList<IReadOnlyList<Atom>> Approximate(Expr expr, string why)
    {
        approximations.Add($"`{CanonicalText.Of(expr)}`: {why}");
        return True;
    }

    private IReadOnlyList<IReadOnlyList<Atom>> Convert(Expr expr, bool positive) => expr switch
    {
        Logical { Operator: LogicalOperator.And } l => positive ? And(Convert(l.Left, true), Convert(l.Right, true)) : Or(Convert(l.Left, false), Convert(l.Right, false)),
        Logical l => positive ? Or(Convert(l.Left, true), Convert(l.Right, true)) : And(Convert(l.Left, false), Convert(l.Right, false)),
        Not n => Convert(n.Operand, !positive),
        BoolLiteral b => b.Value == positive ? True : False,
        NameRef name when attributes.TryGetValue(name.Name, out var type) && type.Type == ExprType.Bool => BoolTest(new AttributeVariable(name.Name, ExprType.Bool), positive),
        IsNull isNull => NullTest(isNull, positive),
        InList inList => Membership(inList, positive),
        Binary { Operator: BinaryOperator.Equal or BinaryOperator.NotEqual or BinaryOperator.Less or BinaryOperator.LessOrEqual or BinaryOperator.Greater or BinaryOperator.GreaterOrEqual } b
            => Comparison(b, positive),
        _ => Approximate(expr, "not a condition the analysis reasons about"),
    };

    private static IReadOnlyList<IReadOnlyList<Atom>> BoolTest(AttributeVariable variable, bool positive) => positive
        ? Single(new BoolAtom(variable, true, variable.Name))
        : Or(Single(new BoolAtom(variable, false, $"{variable.Name} == false")), Single(IsNullAtom(variable)));

    private static NullAtom IsNullAtom(Variable variable) => new(variable, true, $"{variable} is null");

    private static NullAtom NotNullAtom(Variable variable) => new(variable, false, $"{variable} is not null");

    // ---- terms -------------------------------------------------------------------------------------------------------

    private abstract record Term;

    private sealed record ConstantTerm(Value Value) : Term;

    /// <summary>A count (integer) or another number.</summary>
    private sealed record NumberTerm(Variable Variable) : Term
    {
        public bool IsCount => Variable is CountVariable;
    }

    private sealed record TextTerm(AttributeVariable Variable) : Term;

    private sealed record BoolTerm(AttributeVariable Variable) : Term;

    /// <summary>An instant: a node (null: the epoch) plus a fixed offset in ticks.</summary>
    private sealed record TimeTerm(Variable? Node, Int128 Offset) : Term;

    private sealed record SinceTerm(SinceUnit Unit, TimeTerm Time) : Term;

    private sealed record OpaqueTerm(string Reason) : Term;

    private Term Classify(Expr expr)
    {
        switch (expr)
        {
            case NumberLiteral n:
                return new ConstantTerm(Value.FromNumber(n.Value));
            case StringLiteral s:
                return new ConstantTerm(Value.FromString(s.Value));
            case BoolLiteral b:
                return new ConstantTerm(Value.FromBool(b.Value));
            case DurationLiteral d:
                return new ConstantTerm(Value.FromDuration(d.Value));
            case TimestampLiteral t:
                return new TimeTerm(null, t.Value.UtcTicks);
            case NowExpr:
                return new TimeTerm(NowVariable.Instance, 0);
            case NameRef name when attributes.TryGetValue(name.Name, out var type):
                var variable = new AttributeVariable(name.Name, type.Type, type.EnumValues);
                return type.Type switch
                {
                    ExprType.Number => new NumberTerm(variable),
                    ExprType.String => new TextTerm(variable),
                    ExprType.Bool => new BoolTerm(variable),
                    ExprType.Timestamp => new TimeTerm(variable, 0),
                    _ => new OpaqueTerm("an attribute of an unknown type"),
                };
            case EventAggregate a:
                var stream = new EventStream(a.EventType, a.Filter is null ? null : CanonicalText.Of(a.Filter));
                long? window = a.Window?.Value.Ticks;
                return a.Kind switch
                {
                    AggregateKind.Count => new NumberTerm(new CountVariable(stream, window)),
                    AggregateKind.First or AggregateKind.Last => new TimeTerm(new OccurrenceVariable(a.Kind, stream), 0),
                    _ => new NumberTerm(new PropertyAggregateVariable(a.Kind, stream, a.Property!, window)),
                };
            case Since since:
                return Classify(since.Time) is TimeTerm time ? new SinceTerm(since.Unit, time) : new OpaqueTerm("days_since/hours_since of a computed instant");
            case Negate { Operand: DurationLiteral d }:
                return new ConstantTerm(Value.FromDuration(-d.Value));
            case Binary { Operator: BinaryOperator.Add or BinaryOperator.Subtract } b:
                var left = Classify(b.Left);
                var right = Classify(b.Right);
                return (left, right) switch
                {
                    (TimeTerm t, ConstantTerm { Value.Kind: ValueKind.Duration } d) =>
                        t with { Offset = t.Offset + (b.Operator == BinaryOperator.Add ? d.Value.Ticks : -d.Value.Ticks) },
                    (ConstantTerm { Value.Kind: ValueKind.Duration } d, TimeTerm t) when b.Operator == BinaryOperator.Add => t with { Offset = t.Offset + d.Value.Ticks },
                    (ConstantTerm { Value.Kind: ValueKind.Duration } l, ConstantTerm { Value.Kind: ValueKind.Duration } r) =>
                        new ConstantTerm(ExpressionCompiler.Arithmetic(b.Operator, l.Value, r.Value)),
                    _ => new OpaqueTerm("arithmetic on numbers"),
                };
            case Binary { Operator: BinaryOperator.Multiply or BinaryOperator.Divide }:
                return new OpaqueTerm("arithmetic on numbers");
            case Negate:
                return new OpaqueTerm("arithmetic on numbers");
            default:
                return new OpaqueTerm("not a value the analysis reasons about");
        }
    }

    /// <summary>The variables whose being null makes a comparison on this term false.</summary>
    private static IEnumerable<Variable> NullableVariables(Term term) => term switch
    {
        NumberTerm { Variable: { Nullable: true } v } => [v],
        TextTerm t => [t.Variable],
        BoolTerm b => [b.Variable],
        TimeTerm { Node: { Nullable: true } node } => [node],
        SinceTerm { Time.Node: { Nullable: true } node } => [node],
        _ => [],
    };

    // ---- is null / in ------------------------------------------------------------------------------------------------

    private IReadOnlyList<IReadOnlyList<Atom>> NullTest(IsNull isNull, bool positive)
    {
        var wantsNull = isNull.Negated != positive;
        var term = Classify(isNull.Value);
        if (term is OpaqueTerm opaque)
        {
            return Approximate(isNull, opaque.Reason);
        }

        var nullable = NullableVariables(term).ToList();
        if (nullable.Count == 0)
        {
            return wantsNull ? False : True;
        }

        var variable = nullable[0];
        return Single(wantsNull ? IsNullAtom(variable) : NotNullAtom(variable));
    }

    private IReadOnlyList<IReadOnlyList<Atom>> Membership(InList inList, bool positive)
    {
        var term = Classify(inList.Value);
        var items = inList.Items.Select(Classify).ToList();
        if (term is OpaqueTerm opaque)
        {
            return Approximate(inList, opaque.Reason);
        }

        // In positive form the value is not null and is (or is not) in the list; negated, it is null or the opposite.
        var member = inList.Negated != positive;
        var relation = term switch
        {
            TextTerm text when items.All(i => i is ConstantTerm { Value.Kind: ValueKind.String }) =>
                Single(new TextAtom(text.Variable, items.Select(i => ((ConstantTerm)i).Value.AsString).ToHashSet(StringComparer.Ordinal), member,
                    $"{text.Variable} {(member ? "in" : "not in")} [{string.Join(", ", items.Select(i => ((ConstantTerm)i).Value))}]")),
            _ when member => items.Aggregate(False, (cubes, item) => Or(cubes, Relation(term, BinaryOperator.Equal, item, inList))),
            _ => items.Aggregate(True, (cubes, item) => And(cubes, Relation(term, BinaryOperator.NotEqual, item, inList))),
        };
        return positive ? relation : Or([relation, .. NullableVariables(term).Select(v => Single(IsNullAtom(v)))]);
    }

    // ---- comparisons -------------------------------------------------------------------------------------------------

    private IReadOnlyList<IReadOnlyList<Atom>> Comparison(Binary comparison, bool positive)
    {
        var left = Classify(comparison.Left);
        var right = Classify(comparison.Right);
        if (left is OpaqueTerm l)
        {
            return Approximate(comparison, l.Reason);
        }

        if (right is OpaqueTerm r)
        {
            return Approximate(comparison, r.Reason);
        }

        if (left is ConstantTerm a && right is ConstantTerm b)
        {
            return ExpressionCompiler.Compare(comparison.Operator, a.Value, b.Value) == positive ? True : False;
        }

        if (positive)
        {
            return Relation(left, comparison.Operator, right, comparison);
        }

        var nullCases = NullableVariables(left).Concat(NullableVariables(right)).Distinct().Select(v => Single(IsNullAtom(v)));
        return Or([Relation(left, Complement(comparison.Operator), right, comparison), .. nullCases]);
    }

    private static BinaryOperator Complement(BinaryOperator op) => op switch
    {
        BinaryOperator.Equal => BinaryOperator.NotEqual,
        BinaryOperator.NotEqual => BinaryOperator.Equal,
        BinaryOperator.Less => BinaryOperator.GreaterOrEqual,
        BinaryOperator.LessOrEqual => BinaryOperator.Greater,
        BinaryOperator.Greater => BinaryOperator.LessOrEqual,
        _ => BinaryOperator.Less,
    };

    private static BinaryOperator Mirror(BinaryOperator op) => op switch
    {
        BinaryOperator.Less => BinaryOperator.Greater,
        BinaryOperator.LessOrEqual => BinaryOperator.GreaterOrEqual,
        BinaryOperator.Greater => BinaryOperator.Less,
        BinaryOperator.GreaterOrEqual => BinaryOperator.LessOrEqual,
        _ => op,
    };

    /// <summary>The comparison holding with both operands not null.</summary>
    private IReadOnlyList<IReadOnlyList<Atom>> Relation(Term left, BinaryOperator op, Term right, Expr source)
    {
        if (left is ConstantTerm && right is not ConstantTerm)
        {
            return Relation(right, Mirror(op), left, source);
        }

        if (op == BinaryOperator.NotEqual && left is NumberTerm or TimeTerm or SinceTerm)
        {
            return Or(Relation(left, BinaryOperator.Less, right, source), Relation(left, BinaryOperator.Greater, right, source));
        }

        return (left, right) switch
        {
            (ConstantTerm a, ConstantTerm b) => ExpressionCompiler.Compare(op, a.Value, b.Value) ? True : False,
            (NumberTerm x, ConstantTerm { Value.Kind: ValueKind.Number } c) => NumberRelation(x.Variable, null, op, c.Value.AsNumber),
            (NumberTerm x, NumberTerm y) when x.IsCount == y.IsCount => NumberRelation(x.Variable, y.Variable, op, 0),
            (SinceTerm since, ConstantTerm { Value.Kind: ValueKind.Number } c) => SinceRelation(since, op, c.Value.AsNumber, source),
            (TimeTerm x, TimeTerm y) => TimeRelation(x, op, y),
            (TextTerm x, ConstantTerm { Value.Kind: ValueKind.String } c) when op is BinaryOperator.Equal or BinaryOperator.NotEqual =>
                Single(new TextAtom(x.Variable, new HashSet<string>(StringComparer.Ordinal) { c.Value.AsString }, op == BinaryOperator.Equal,
                    $"{x.Variable} {CanonicalText.Symbol(op)} {c.Value}")),
            (BoolTerm x, ConstantTerm { Value.Kind: ValueKind.Bool } c) when op is BinaryOperator.Equal or BinaryOperator.NotEqual =>
                Single(new BoolAtom(x.Variable, c.Value.AsBool == (op == BinaryOperator.Equal), $"{x.Variable} == {(c.Value.AsBool == (op == BinaryOperator.Equal) ? "true" : "false")}")),
            _ => Approximate(source, "a comparison between these kinds of values"),
        };
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary><c>x op y + c</c> (y null: the constant c).</summary>
    private static IReadOnlyList<IReadOnlyList<Atom>> NumberRelation(Variable x, Variable? y, BinaryOperator op, double c)
    {
        var text = y is null ? $"{x} {CanonicalText.Symbol(op)} {Number(c)}" : $"{x} {CanonicalText.Symbol(op)} {y}";
        var atoms = new List<Atom>();
        if (op is BinaryOperator.Less or BinaryOperator.LessOrEqual or BinaryOperator.Equal)
        {
            atoms.Add(new NumberDifferenceAtom(x, y, c, op == BinaryOperator.Less, text));
        }

        if (op is BinaryOperator.Greater or BinaryOperator.GreaterOrEqual or BinaryOperator.Equal)
        {
            atoms.Add(new NumberDifferenceAtom(y, x, -c, op == BinaryOperator.Greater, text));
        }

        return Single([.. atoms]);
    }

    /// <summary>days_since(t) = floor((now - t) / day) compared with a number: a range of whole units for now - t.</summary>
    private IReadOnlyList<IReadOnlyList<Atom>> SinceRelation(SinceTerm since, BinaryOperator op, double c, Expr source)
    {
        if (Math.Abs(c) > 1e9)
        {
            return Approximate(source, "a day or hour count beyond a billion");
        }

        Int128? low = null, high = null;
        switch (op)
        {
            case BinaryOperator.GreaterOrEqual: low = (Int128)Math.Ceiling(c); break;
            case BinaryOperator.Greater: low = (Int128)Math.Floor(c) + 1; break;
            case BinaryOperator.LessOrEqual: high = (Int128)Math.Floor(c); break;
            case BinaryOperator.Less: high = (Int128)Math.Ceiling(c) - 1; break;
            default:
                if (c != Math.Floor(c))
                {
                    return False;
                }

                low = high = (Int128)c;
                break;
        }

        var unit = since.Unit == SinceUnit.Days ? DayTicks : TimeSpan.TicksPerHour;
        var node = since.Time.Node;
        var offset = since.Time.Offset;
        var text = $"{(since.Unit == SinceUnit.Days ? "days_since" : "hours_since")}({TimeText(since.Time)}) {CanonicalText.Symbol(op)} {Number(c)}";
        var atoms = new List<Atom>();
        if (high is { } h)
        {
            // now - t <= (h + 1) * unit - 1, with t = node + offset.
            atoms.Add(new TimeDifferenceAtom(NowVariable.Instance, node, ((h + 1) * unit) - 1 + offset, text));
        }

        if (low is { } l)
        {
            // now - t >= l * unit.
            atoms.Add(new TimeDifferenceAtom(node, NowVariable.Instance, -((l * unit) + offset), text));
        }

        return Single([.. atoms]);
    }

    private static IReadOnlyList<IReadOnlyList<Atom>> TimeRelation(TimeTerm x, BinaryOperator op, TimeTerm y)
    {
        // (x.Node + x.Offset) op (y.Node + y.Offset)  <=>  x.Node - y.Node op y.Offset - x.Offset.
        var c = y.Offset - x.Offset;
        var text = $"{TimeText(x)} {CanonicalText.Symbol(op)} {TimeText(y)}";
        var atoms = new List<Atom>();
        if (op is BinaryOperator.Less or BinaryOperator.LessOrEqual or BinaryOperator.Equal)
        {
            atoms.Add(new TimeDifferenceAtom(x.Node, y.Node, op == BinaryOperator.Less ? c - 1 : c, text));
        }

        if (op is BinaryOperator.Greater or BinaryOperator.GreaterOrEqual or BinaryOperator.Equal)
        {
            atoms.Add(new TimeDifferenceAtom(y.Node, x.Node, op == BinaryOperator.Greater ? -c - 1 : -c, text));
        }

        return Single([.. atoms]);
    }

    private static string TimeText(TimeTerm term)
    {
        if (term.Node is null)
        {
            return term.Offset >= 0 && term.Offset <= DateTimeOffset.MaxValue.UtcTicks
                ? Value.FormatTimestamp(new DateTimeOffset((long)term.Offset, TimeSpan.Zero))
                : $"{term.Offset} ticks";
        }

        return term.Offset == 0 ? term.Node.ToString()!
            : term.Offset > 0 ? $"{term.Node} + {Value.FromDuration(new TimeSpan((long)term.Offset))}"
            : $"{term.Node} - {Value.FromDuration(new TimeSpan((long)-term.Offset))}";
    }
}
