using CsCheck;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Language;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Tests.Evaluation;

/// <summary>
/// Window aggregates read the transient per-type columns kept on the state (<see cref="EventColumns"/>). Whatever the
/// amounts (fractions, huge values, missing, not numbers), the arrival order, or changes made to the history lists
/// behind the engine's back, every aggregate must equal a plain in-order pass over the events (the old evaluation), with
/// the same next-change instant.
/// </summary>
public class EventColumnsTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly string[] Aggregates =
    [
        "count(A)", "count(A, 1d)", "count(A, 3h)", "sum(A.amount)", "sum(A.amount, 1d)", "sum(A.amount, 5h)",
        "min(A.amount, 1d)", "max(A.amount, 2d)", "avg(A.amount, 1d)", "avg(A.amount)", "first(A)", "last(A)",
        "count(A where amount > 1, 1d)", "sum(A.amount where amount < 3, 2d)",
    ];

    [Fact]
    public void Aggregates_over_kept_columns_equal_an_in_order_pass_over_the_events()
    {
        Gen.Int.Sample(seed => Check(seed), iter: 200);
    }

    private static void Check(int seed)
    {
        var random = new Random(seed);
        var compiler = new ExpressionCompiler(new Dictionary<string, AttributeType>());
        var compiled = Aggregates.Select(text => (text, compiler.Compile(ExpressionParser.Parse(text).Expression!).Evaluate)).ToArray();
        var state = new CustomerState { CustomerId = "c" };
        var context = new EvaluationContext();
        var huge = random.Next(3) == 0;
        var fractional = random.Next(2) == 0;
        for (var i = 0; i < 60; i++)
        {
            var properties = new Dictionary<string, Value>(StringComparer.Ordinal);
            switch (random.Next(6))
            {
                case 0:
                    break;
                case 1:
                    properties["amount"] = Value.FromString("12");
                    break;
                default:
                    var amount = fractional ? random.Next(-40, 40) * 0.1 : random.Next(-5, 6);
                    properties["amount"] = Value.FromNumber(huge && random.Next(4) == 0 ? amount * 1e17 : amount);
                    break;
            }

            // Mostly in order, sometimes earlier than the last one (inserted in the middle) or at the same time.
            var at = Start.AddMinutes((i * 45) - (random.Next(4) == 0 ? random.Next(0, 300) : 0));
            state.Record(new CustomerEvent { EventId = $"e{i:D2}", Type = random.Next(5) == 0 ? "B" : "A", OccurredAt = at, Properties = properties });
            if (random.Next(10) == 0 && state.EventsByType.TryGetValue("A", out var list) && list.Count > 2)
            {
                // Changed behind the engine's back, as a retention job might: the columns must notice.
                list.RemoveRange(0, random.Next(1, 3));
            }

            var now = at.AddMinutes(random.Next(0, 120)).UtcTicks;
            foreach (var (text, evaluate) in compiled)
            {
                context.Start(state, now);
                var kept = evaluate(context);
                var keptChange = context.NextChange;
                var expected = InOrder(text, state, now, out var expectedChange);
                Assert.True(expected.Equals(kept), $"seed {seed} step {i} {text}: expected {expected}, columns gave {kept}");
                Assert.True(expectedChange == keptChange, $"seed {seed} step {i} {text}: next change {expectedChange} vs {keptChange}");
            }
        }
    }

    /// <summary>The reference: one pass over the type's events in history order, as the evaluator did before the columns.</summary>
    private static Value InOrder(string text, CustomerState state, long now, out long nextChange)
    {
        var aggregate = (EventAggregate)ExpressionParser.Parse(text).Expression!;
        var window = aggregate.Window?.Value.Ticks ?? 0;
        nextChange = long.MaxValue;
        var events = state.EventsByType.TryGetValue(aggregate.EventType, out var list) ? list : [];
        var included = new List<(long Ticks, double Amount)>();
        foreach (var e in events)
        {
            var ticks = e.OccurredAt.UtcTicks;
            if (ticks > now || (window > 0 && ticks <= now - window))
            {
                continue;
            }

            var amount = e.Properties.TryGetValue("amount", out var value) && value.Kind == ValueKind.Number ? value.AsNumber : (double?)null;
            if (aggregate.Filter is not null && !((amount > 1 && aggregate.Kind == AggregateKind.Count) || (amount < 3 && aggregate.Kind == AggregateKind.Sum)))
            {
                continue;
            }

            if (aggregate.Property is not null && amount is null)
            {
                continue;
            }

            included.Add((ticks, amount ?? 1.0));
        }

        if (aggregate.Kind is AggregateKind.First or AggregateKind.Last)
        {
            return included.Count == 0 ? Value.Null
                : Value.FromTimestampTicks(aggregate.Kind == AggregateKind.First ? included[0].Ticks : included[^1].Ticks);
        }

        if (window > 0 && included.Count > 0)
        {
            var leaves = included[0].Ticks + window;
            nextChange = leaves > now ? leaves : long.MaxValue;
        }

        var total = 0.0;
        var min = double.PositiveInfinity;
        var max = double.NegativeInfinity;
        foreach (var (_, amount) in included)
        {
            total += amount;
            min = Math.Min(min, amount);
            max = Math.Max(max, amount);
        }

        return aggregate.Kind switch
        {
            AggregateKind.Count => Value.FromNumber(included.Count),
            AggregateKind.Sum => Value.FromNumber(total),
            _ when included.Count == 0 => Value.Null,
            AggregateKind.Avg => Value.FromNumber(total / included.Count),
            AggregateKind.Min => Value.FromNumber(min),
            _ => Value.FromNumber(max),
        };
    }
}
