using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Support;

/// <summary>
/// The test oracle: a direct tree-walking reading of the language contract over a plain list of events, with no
/// caching, no index and no compiled code. Slow on purpose.
/// </summary>
internal static class NaiveInterpreter
{
    public static bool Holds(SegmentRule rule, Ruleset ruleset, IReadOnlyList<CustomerEvent> events, DateTimeOffset now) =>
        Evaluate(rule.Condition, ruleset, events.Where(e => e.OccurredAt <= now).ToList(), now, null) is { Kind: ValueKind.Bool } v && v.AsBool;

    private static Value Evaluate(Expr expr, Ruleset ruleset, List<CustomerEvent> visible, DateTimeOffset now, CustomerEvent? current)
    {
        Value Eval(Expr e) => Evaluate(e, ruleset, visible, now, current);
        switch (expr)
        {
            case NumberLiteral n: return Value.FromNumber(n.Value);
            case StringLiteral s: return Value.FromString(s.Value);
            case BoolLiteral b: return Value.FromBool(b.Value);
            case DurationLiteral d: return Value.FromDuration(d.Value);
            case TimestampLiteral t: return Value.FromTimestamp(t.Value);
            case NowExpr: return Value.FromTimestamp(now);
            case NameRef name when current is not null:
                return current.Properties.TryGetValue(name.Name, out var property) ? property : Value.Null;
            case NameRef name:
                return Attribute(name.Name, ruleset.Attributes[name.Name].Type, visible);
            case EventAggregate a:
                return Aggregate(a, ruleset, visible, now);
            case Since since:
                var time = Eval(since.Time);
                if (time.Kind != ValueKind.Timestamp)
                {
                    return Value.Null;
                }

                var unit = since.Unit == SinceUnit.Days ? TimeSpan.FromDays(1) : TimeSpan.FromHours(1);
                return Value.FromNumber(Math.Floor((now - time.AsTimestamp) / unit));
            case Binary binary:
                return Binary(binary.Operator, Eval(binary.Left), Eval(binary.Right));
            case Logical { Operator: LogicalOperator.And } logical:
                return Value.FromBool(Eval(logical.Left).AsBool && Eval(logical.Right).AsBool);
            case Logical logical:
                return Value.FromBool(Eval(logical.Left).AsBool || Eval(logical.Right).AsBool);
            case Not not:
                return Value.FromBool(!Eval(not.Operand).AsBool);
            case Negate negate:
                var operand = Eval(negate.Operand);
                return operand.Kind == ValueKind.Number ? Value.FromNumber(-operand.AsNumber)
                    : operand.Kind == ValueKind.Duration ? Value.FromDuration(-operand.AsDuration) : Value.Null;
            case InList inList:
                var value = Eval(inList.Value);
                if (value.IsNull)
                {
                    return Value.False;
                }

                return Value.FromBool(inList.Items.Any(item => Eval(item) == value) != inList.Negated);
            case IsNull isNull:
                return Value.FromBool(Eval(isNull.Value).IsNull != isNull.Negated);
            default:
                throw new InvalidOperationException(expr.GetType().Name);
        }
    }

    private static Value Attribute(string name, ExprType type, List<CustomerEvent> visible)
    {
        var latest = visible
            .Where(e => e.Type == "ProfileUpdated" && e.Properties.ContainsKey(name))
            .OrderBy(e => e.OccurredAt).ThenBy(e => e.EventId, StringComparer.Ordinal)
            .LastOrDefault();
        if (latest is null)
        {
            return Value.Null;
        }

        var value = latest.Properties[name];
        return type switch
        {
            ExprType.Timestamp when value.Kind == ValueKind.String && DateTimeOffset.TryParse(value.AsString, out var t) => Value.FromTimestamp(t),
            ExprType.Number when value.Kind == ValueKind.Number => value,
            ExprType.String when value.Kind == ValueKind.String => value,
            ExprType.Bool when value.Kind == ValueKind.Bool => value,
            _ => Value.Null,
        };
    }

    private static Value Aggregate(EventAggregate a, Ruleset ruleset, List<CustomerEvent> visible, DateTimeOffset now)
    {
        var matching = visible
            .Where(e => e.Type == a.EventType)
            .Where(e => a.Window is null || e.OccurredAt > now - a.Window.Value)
            .Where(e => a.Filter is null || Evaluate(a.Filter, ruleset, visible, now, e).AsBool)
            .ToList();
        if (a.Kind == AggregateKind.Count)
        {
            return Value.FromNumber(matching.Count);
        }

        if (a.Kind is AggregateKind.First or AggregateKind.Last)
        {
            return matching.Count == 0 ? Value.Null
                : Value.FromTimestamp(a.Kind == AggregateKind.First ? matching.Min(e => e.OccurredAt) : matching.Max(e => e.OccurredAt));
        }

        var amounts = matching
            .Select(e => e.Properties.TryGetValue(a.Property!, out var v) ? v : Value.Null)
            .Where(v => v.Kind == ValueKind.Number)
            .Select(v => v.AsNumber)
            .ToList();
        return a.Kind switch
        {
            AggregateKind.Sum => Value.FromNumber(amounts.Sum()),
            _ when amounts.Count == 0 => Value.Null,
            AggregateKind.Min => Value.FromNumber(amounts.Min()),
            AggregateKind.Max => Value.FromNumber(amounts.Max()),
            _ => Value.FromNumber(amounts.Sum() / amounts.Count),
        };
    }

    private static Value Binary(BinaryOperator op, Value a, Value b)
    {
        switch (op)
        {
            case BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide:
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

                if (a.Kind == ValueKind.Timestamp && b.Kind == ValueKind.Duration)
                {
                    return Value.FromTimestamp(op == BinaryOperator.Add ? a.AsTimestamp + b.AsDuration : a.AsTimestamp - b.AsDuration);
                }

                if (a.Kind == ValueKind.Duration && b.Kind == ValueKind.Timestamp && op == BinaryOperator.Add)
                {
                    return Value.FromTimestamp(b.AsTimestamp + a.AsDuration);
                }

                if (a.Kind == ValueKind.Duration && b.Kind == ValueKind.Duration)
                {
                    return Value.FromDuration(op == BinaryOperator.Add ? a.AsDuration + b.AsDuration : a.AsDuration - b.AsDuration);
                }

                return Value.Null;
            default:
                if (a.IsNull || b.IsNull || a.Kind != b.Kind)
                {
                    return Value.False;
                }

                if (a.Kind == ValueKind.Bool)
                {
                    return Value.FromBool(op == BinaryOperator.Equal ? a.AsBool == b.AsBool : op == BinaryOperator.NotEqual && a.AsBool != b.AsBool);
                }

                var order = a.Kind switch
                {
                    ValueKind.Number => a.AsNumber.CompareTo(b.AsNumber),
                    ValueKind.String => string.CompareOrdinal(a.AsString, b.AsString),
                    _ => a.Ticks.CompareTo(b.Ticks),
                };
                return Value.FromBool(op switch
                {
                    BinaryOperator.Equal => order == 0,
                    BinaryOperator.NotEqual => order != 0,
                    BinaryOperator.Less => order < 0,
                    BinaryOperator.LessOrEqual => order <= 0,
                    BinaryOperator.Greater => order > 0,
                    _ => order >= 0,
                });
        }
    }
}

/// <summary>
/// Oracle for membership: evaluates every segment naively at every given instant and applies the membership rules of
/// issue 4 literally.
/// </summary>
internal sealed class NaiveMembership(Ruleset ruleset)
{
    public Dictionary<string, DateTimeOffset> Held { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, DateTimeOffset> LastGroupEntry { get; } = new(StringComparer.Ordinal);

    public List<SegmentChange> Changes { get; } = [];

    public List<BlockedSegment> Blocked { get; private set; } = [];

    public void EvaluateAt(IReadOnlyList<CustomerEvent> known, DateTimeOffset now)
    {
        var holds = ruleset.Segments.ToDictionary(s => s.Name, s => NaiveInterpreter.Holds(s, ruleset, known, now));
        foreach (var segment in ruleset.Segments.Where(s => !IsExclusive(s)))
        {
            if (holds[segment.Name] && Held.TryAdd(segment.Name, now))
            {
                Changes.Add(new SegmentChange(segment.Name, MembershipChangeKind.Entered, now, segment.Group));
            }
            else if (!holds[segment.Name] && Held.Remove(segment.Name))
            {
                Changes.Add(new SegmentChange(segment.Name, MembershipChangeKind.Exited, now, segment.Group));
            }
        }

        Blocked = [];
        foreach (var group in ruleset.Groups.Values.Where(g => g.Exclusive))
        {
            var members = ruleset.Segments.Where(s => s.Group == group.Name)
                .OrderByDescending(s => s.Priority).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
            var holder = members.FirstOrDefault(m => Held.ContainsKey(m.Name));
            if (holder is not null && !holds[holder.Name])
            {
                Held.Remove(holder.Name);
                Changes.Add(new SegmentChange(holder.Name, MembershipChangeKind.Exited, now, group.Name));
                holder = null;
            }

            DateTimeOffset? cooldownUntil = null;
            if (holder is null && members.FirstOrDefault(m => holds[m.Name]) is { } winner)
            {
                if (LastGroupEntry.TryGetValue(group.Name, out var last) && last + group.Cooldown > now)
                {
                    cooldownUntil = last + group.Cooldown;
                }
                else
                {
                    Held[winner.Name] = now;
                    LastGroupEntry[group.Name] = now;
                    Changes.Add(new SegmentChange(winner.Name, MembershipChangeKind.Entered, now, group.Name));
                    holder = winner;
                }
            }

            foreach (var member in members.Where(m => holds[m.Name] && !Held.ContainsKey(m.Name)))
            {
                Blocked.Add(holder is not null
                    ? new BlockedSegment(member.Name, group.Name, $"held by {holder.Name}", holder.Name, null)
                    : new BlockedSegment(member.Name, group.Name, $"cooldown until {Value.FormatTimestamp(cooldownUntil!.Value)}", null, cooldownUntil));
            }
        }

        Blocked.Sort((a, b) => string.CompareOrdinal(a.Segment, b.Segment));
    }

    private bool IsExclusive(SegmentRule segment) => segment.Group is { } g && ruleset.Groups[g].Exclusive;
}
