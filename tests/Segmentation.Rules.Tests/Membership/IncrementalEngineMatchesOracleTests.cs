using System.Globalization;
using CsCheck;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Tests.Support;

namespace Segmentation.Rules.Tests.Membership;

/// <summary>
/// The compiled, incremental engine (evaluating only at arrivals and at the instants it schedules itself) must produce
/// exactly the membership changes of the naive oracle evaluated at every hour (and one tick after it). Everything random
/// lives on the hour grid, so every instant at which a condition can change is one the oracle looks at.
/// </summary>
public class IncrementalEngineMatchesOracleTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Incremental_engine_agrees_with_naive_oracle_on_random_rulesets_and_out_of_order_histories()
    {
        Gen.Int.Sample(seed => Check(seed), iter: 150);
    }

    [Fact]
    public void Full_re_evaluation_mode_agrees_with_naive_oracle()
    {
        Gen.Int.Sample(seed => Check(seed, incremental: false), iter: 40);
    }

    [Fact]
    public void Index_kept_on_the_state_gives_what_an_index_rebuilt_from_the_persisted_state_gives_at_every_step()
    {
        Gen.Int.Sample(seed => CheckKeptIndex(seed), iter: 150);
    }

    /// <summary>
    /// The engine keeps a transient index on the state (due heap, group holders, blocked lists) and updates it as it goes.
    /// A state cloned before every call has none, so the engine rebuilds it from the persisted properties: the two must
    /// never differ, at events and at the scheduled checks in between.
    /// </summary>
    private static void CheckKeptIndex(int seed)
    {
        var random = new Random(seed);
        var yaml = RandomRuleset(random, twoGroups: true);
        var loaded = RulesetLoader.Load(yaml, "random.yaml");
        Assert.True(loaded.Succeeded, yaml + "\n" + string.Join("\n", loaded.Errors));
        var engine = new SegmentEngine(loaded.Ruleset!);
        var kept = new CustomerState { CustomerId = "c" };
        var fresh = new CustomerState { CustomerId = "c" };
        var step = 0;
        foreach (var (e, now) in RandomArrivals(random))
        {
            if (kept.NextCheckAt is { } due && due < now && random.Next(2) == 0)
            {
                Same(engine.Evaluate(kept, due), engine.Evaluate(fresh.Clone(), due), $"seed {seed} step {step} check at {due:O}\n{yaml}");
                fresh = kept.Clone();
            }

            Same(engine.Apply(kept, e, now), engine.Apply(fresh.Clone(), e, now), $"seed {seed} step {step++} {e.Type} at {e.OccurredAt:O} arrived {now:O}\n{yaml}");
            fresh = kept.Clone();
        }

        static void Same(EvaluationResult kept, EvaluationResult rebuilt, string context)
        {
            Assert.True(rebuilt.Changes.SequenceEqual(kept.Changes), $"{context}\nrebuilt: {string.Join("; ", rebuilt.Changes)}\nkept: {string.Join("; ", kept.Changes)}");
            Assert.True(rebuilt.Blocked.SequenceEqual(kept.Blocked), $"{context}\nrebuilt: {string.Join("; ", rebuilt.Blocked)}\nkept: {string.Join("; ", kept.Blocked)}");
            Assert.Equal(rebuilt.NextCheckAt, kept.NextCheckAt);
            Assert.Equal(rebuilt.State.RecheckAt.OrderBy(p => p.Key, StringComparer.Ordinal), kept.State.RecheckAt.OrderBy(p => p.Key, StringComparer.Ordinal));
            Assert.Equal(rebuilt.State.Qualifying.Order(StringComparer.Ordinal), kept.State.Qualifying.Order(StringComparer.Ordinal));
            Assert.Equal(rebuilt.State.Held.OrderBy(p => p.Key, StringComparer.Ordinal), kept.State.Held.OrderBy(p => p.Key, StringComparer.Ordinal));
        }
    }

    private static void Check(int seed, bool incremental = true)
    {
        var random = new Random(seed);
        var yaml = RandomRuleset(random);
        var loaded = RulesetLoader.Load(yaml, "random.yaml");
        Assert.True(loaded.Succeeded, yaml + "\n" + string.Join("\n", loaded.Errors));
        var ruleset = loaded.Ruleset!;

        var arrivals = RandomArrivals(random);
        var end = arrivals[^1].Now.AddHours(random.Next(0, 120));

        var engine = new SegmentEngine(ruleset, incremental);
        var state = new CustomerState { CustomerId = "c" };
        var engineChanges = new List<SegmentChange>();
        foreach (var (e, now) in arrivals)
        {
            engineChanges.AddRange(engine.Apply(state, e, now).Changes);
        }

        var final = engine.Evaluate(state, end);
        engineChanges.AddRange(final.Changes);

        var oracle = new NaiveMembership(ruleset);
        var known = new List<CustomerEvent>();
        var next = 0;
        for (var instant = arrivals[0].Now; instant <= end; instant = instant.AddHours(1))
        {
            while (next < arrivals.Count && arrivals[next].Now == instant)
            {
                known.Add(arrivals[next++].Event);
            }

            oracle.EvaluateAt(known, instant);
            if (instant < end)
            {
                oracle.EvaluateAt(known, instant.AddTicks(1));
            }
        }

        var context = $"seed {seed}\n{yaml}\n{string.Join("\n", arrivals.Select(a => $"{a.Event.Type} at {a.Event.OccurredAt:O} arrived {a.Now:O} {string.Join(",", a.Event.Properties)}"))}";
        Assert.True(oracle.Changes.SequenceEqual(engineChanges),
            $"{context}\noracle: {string.Join("; ", oracle.Changes)}\nengine: {string.Join("; ", engineChanges)}");
        Assert.Equal(oracle.Held.OrderBy(p => p.Key, StringComparer.Ordinal), state.Held.OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.True(oracle.Blocked.SequenceEqual(final.Blocked), $"{context}\noracle blocked: {string.Join("; ", oracle.Blocked)}\nengine blocked: {string.Join("; ", final.Blocked)}");
    }

    internal static List<(CustomerEvent Event, DateTimeOffset Now)> RandomArrivals(Random random)
    {
        var arrivals = new List<(CustomerEvent, DateTimeOffset)>();
        var now = Start.AddHours(random.Next(0, 48));
        var count = random.Next(1, 12);
        for (var i = 0; i < count; i++)
        {
            now = now.AddHours(random.Next(1, 40));
            // A third of the events arrive late: they occurred up to three days before they arrive.
            var occurredAt = random.Next(3) == 0 ? now.AddHours(-random.Next(0, 72)) : now;
            var type = Pick(random, "A", "B", "ProfileUpdated");
            var properties = new Dictionary<string, Value>(StringComparer.Ordinal);
            if (type == "ProfileUpdated")
            {
                if (random.Next(2) == 0)
                {
                    properties["score"] = Value.FromNumber(random.Next(0, 5));
                }

                if (random.Next(2) == 0)
                {
                    properties["opt_in"] = Value.FromBool(random.Next(2) == 0);
                }

                if (random.Next(2) == 0)
                {
                    properties["plan"] = random.Next(4) == 0 ? Value.Null : Value.FromString(Pick(random, "free", "pro", "team"));
                }

                if (random.Next(3) == 0)
                {
                    properties["signup_at"] = Value.FromString(Start.AddHours(random.Next(0, 200)).ToString("O", CultureInfo.InvariantCulture));
                }
            }
            else if (random.Next(4) != 0)
            {
                properties["amount"] = Value.FromNumber(random.Next(0, 4) * 50);
            }

            arrivals.Add((new CustomerEvent { EventId = $"e{i:D2}", Type = type, OccurredAt = occurredAt, Properties = properties }, now));
        }

        return arrivals;
    }

    internal static string RandomRuleset(Random random, bool twoGroups = false)
    {
        var cooldown = Pick(random, "0h", "3h", "24h");
        var segments = new List<string>();
        var count = random.Next(1, twoGroups ? 9 : 5);
        for (var i = 0; i < count; i++)
        {
            var group = random.Next(3) != 0 ? $"    group: {(twoGroups && random.Next(2) == 0 ? "h" : "g")}\n" : string.Empty;
            segments.Add($"  s{i}:\n{group}    priority: {random.Next(1, 3)}\n    when: '{Bool(random, 2).Replace("'", "''", StringComparison.Ordinal)}'\n");
        }

        return $"""
            attributes:
              score: number
              opt_in: bool
              plan: {"{"} enum: [free, pro, team] {"}"}
              signup_at: timestamp
            groups:
              g: {"{"} exclusive: true, cooldown: {cooldown} {"}"}
              h: {"{"} exclusive: true, cooldown: 6h {"}"}
            segments:
            {string.Concat(segments)}
            """;
    }

    private static string Pick(Random random, params string[] options) => options[random.Next(options.Length)];

    private static string Window(Random random) => Pick(random, "", ", 6h", ", 30h", ", 1d", ", 3d");

    private static string Bool(Random random, int depth)
    {
        var choice = random.Next(depth > 0 ? 9 : 6);
        return choice switch
        {
            0 or 1 => $"{Number(random, depth)} {Pick(random, "==", "!=", "<", "<=", ">", ">=")} {Number(random, depth)}",
            2 => $"{Time(random)} {Pick(random, "<", "<=", ">", ">=", "==")} {Time(random)}",
            3 => Pick(random, "opt_in", "plan == \"pro\"", "plan in [\"free\", \"team\"]", "plan not in [\"pro\"]", "score is null", "plan is not null"),
            4 => $"{Number(random, 0)} is null",
            5 => $"count({Pick(random, "A", "B")} where amount {Pick(random, ">", "==", "<=")} {random.Next(0, 4) * 50}{Window(random)}) >= {random.Next(0, 3)}",
            6 => $"not ({Bool(random, depth - 1)})",
            7 => $"({Bool(random, depth - 1)}) and ({Bool(random, depth - 1)})",
            _ => $"({Bool(random, depth - 1)}) or ({Bool(random, depth - 1)})",
        };
    }

    private static string Number(Random random, int depth) => random.Next(depth > 0 ? 8 : 7) switch
    {
        0 => $"count({Pick(random, "A", "B", "ProfileUpdated")}{Window(random)})",
        1 => $"{Pick(random, "sum", "min", "max", "avg")}({Pick(random, "A", "B")}.amount{Window(random)})",
        2 => $"days_since({Time(random)})",
        3 => $"hours_since({Time(random)})",
        4 => "score",
        5 or 6 => random.Next(0, 5).ToString(CultureInfo.InvariantCulture),
        _ => $"{Number(random, 0)} {Pick(random, "+", "-", "*", "/")} {Number(random, 0)}",
    };

    private static string Time(Random random) => random.Next(7) switch
    {
        0 => $"first({Pick(random, "A", "B")})",
        1 => $"last({Pick(random, "A", "B", "ProfileUpdated")})",
        2 => "now",
        3 => $"now - {random.Next(1, 50)}h",
        4 => $"last({Pick(random, "A", "B")}) + {Pick(random, "2h", "1d", "36h")}",
        5 => "signup_at",
        _ => Start.AddHours(random.Next(0, 200)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
    };
}
