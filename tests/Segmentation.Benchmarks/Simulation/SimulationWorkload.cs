using System.Globalization;
using System.Text;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;
using Segmentation.Rules.Simulation;

namespace Segmentation.Benchmarks.Simulation;

/// <summary>
/// Synthetic input for the simulation benchmark, generated on the fly from the customer number (never held in memory
/// as a whole, as rows streamed from PostgreSQL would not be): 100 segments over windowed sums and counts, recency,
/// attributes and signup age, ten of them in one exclusive group; profiles with a signup, a profile update and on
/// average four purchases in the last year; histories of purchases and page views spread over 90 days.
/// </summary>
internal static class SimulationWorkload
{
    public static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string[] Plans = ["free", "pro", "team"];
    private static readonly string[] Countries = ["DE", "FR", "NL", "IT", "ES"];
    private static readonly int[] Windows = [7, 30, 90, 365];

    /// <summary>
    /// The kinds, by segment number modulo 5: sum over a window, count over a window, days since the last purchase,
    /// plan and country, signup age and opt-in. <see cref="SqlQuery"/> states the same conditions in SQL.
    /// </summary>
    public static Ruleset Ruleset(int segments)
    {
        var yaml = new StringBuilder("""
            attributes:
              plan: { enum: [free, pro, team] }
              country: string
              email_opt_in: bool
            groups:
              contact: { exclusive: true, cooldown: 24h }
            segments:

            """);
        for (var i = 0; i < segments; i++)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  s{i:D3}:\n");
            if (i < 10)
            {
                yaml.Append(CultureInfo.InvariantCulture, $"    group: contact\n    priority: {i}\n    channel: {(i % 2 == 0 ? "email" : "sms")}\n");
            }

            yaml.Append(CultureInfo.InvariantCulture, $"    when: '{Condition(i)}'\n");
        }

        var loaded = RulesetLoader.Load(yaml.ToString(), "simulation-benchmark.yaml");
        return loaded.Ruleset ?? throw new InvalidOperationException(string.Join("\n", loaded.Errors));
    }

    private static string Condition(int i) => (i % 5) switch
    {
        0 => $"sum(Purchased.amount, {Windows[i / 5 % 4]}d) >= {Threshold(i)}",
        1 => $"count(Purchased, {Windows[i / 5 % 4]}d) >= {1 + (i / 5 % 3)}",
        2 => $"days_since(last(Purchased)) > {Recency(i)}",
        3 => $"plan == \"{Plans[i / 5 % 3]}\" and country == \"{Countries[i / 15 % 5]}\"",
        _ => $"days_since(first(SignedUp)) >= {Age(i)} and email_opt_in",
    };

    private static int Threshold(int i) => 50 + (i * 37 % 900);

    private static int Recency(int i) => 10 + (i * 7 % 200);

    private static int Age(int i) => 30 + (i * 11 % 300);

    /// <summary>
    /// One query computing, for every customer, the same 100 conditions over tables shaped like a hand-written store
    /// (one row per customer, one per purchase), counting the customers who satisfy each. No exclusivity or cooldown:
    /// SQL gets the easier problem.
    /// </summary>
    public static string SqlQuery(string schema, int segments)
    {
        var windows = string.Join(",\n        ", Windows.SelectMany(w => new[]
        {
            $"sum(amount) FILTER (WHERE occurred_at > @now - interval '{w} days') AS sum_{w}",
            $"count(*) FILTER (WHERE occurred_at > @now - interval '{w} days') AS count_{w}",
        }));
        var conditions = string.Join(",\n    ", Enumerable.Range(0, segments).Select(i => $"count(*) FILTER (WHERE {SqlCondition(i)}) AS s{i:D3}"));
        return $"""
            WITH purchase_stats AS (
              SELECT customer_id,
                {windows},
                max(occurred_at) AS last_purchase
              FROM {schema}.purchases GROUP BY customer_id)
            SELECT {conditions}
            FROM {schema}.profiles c LEFT JOIN purchase_stats p USING (customer_id)
            """;
    }

    private static string SqlCondition(int i) => (i % 5) switch
    {
        0 => $"coalesce(p.sum_{Windows[i / 5 % 4]}, 0) >= {Threshold(i)}",
        1 => $"coalesce(p.count_{Windows[i / 5 % 4]}, 0) >= {1 + (i / 5 % 3)}",
        2 => $"p.last_purchase < @now - interval '{Recency(i)} days'",
        3 => $"c.plan = '{Plans[i / 5 % 3]}' AND c.country = '{Countries[i / 15 % 5]}'",
        _ => $"c.signed_up_at <= @now - interval '{Age(i)} days' AND c.email_opt_in",
    };

    /// <summary>The same population in SQL: generated server-side with the same distributions.</summary>
    public static string SqlPopulation(string schema, int customers) => $"""
        DROP SCHEMA IF EXISTS {schema} CASCADE;
        CREATE SCHEMA {schema};
        SELECT setseed(0.42);
        CREATE UNLOGGED TABLE {schema}.profiles AS
          SELECT 'c' || g AS customer_id,
                 (ARRAY['free','pro','team'])[1 + floor(random() * 3)::int] AS plan,
                 (ARRAY['DE','FR','NL','IT','ES'])[1 + floor(random() * 5)::int] AS country,
                 random() < 0.5 AS email_opt_in,
                 @now - random() * interval '730 days' AS signed_up_at
          FROM generate_series(1, {customers}) g;
        CREATE UNLOGGED TABLE {schema}.purchases AS
          SELECT 'c' || (1 + floor(random() * {customers})::int) AS customer_id,
                 @now - random() * interval '365 days' AS occurred_at,
                 5 + floor(random() * 496)::int AS amount
          FROM generate_series(1, {customers * 4}) g;
        ANALYZE {schema}.profiles;
        ANALYZE {schema}.purchases;
        """;

    public static async IAsyncEnumerable<CustomerState> Profiles(int customers)
    {
        for (var c = 0; c < customers; c++)
        {
            var random = new Random(c);
            var state = new CustomerState { CustomerId = $"c{c}" };
            state.Record(Event(c, 0, "SignedUp", Now - TimeSpan.FromDays(random.NextDouble() * 730)));
            state.Record(Event(c, 1, "ProfileUpdated", Now - TimeSpan.FromDays(random.NextDouble() * 30),
                ("plan", Value.FromString(Plans[random.Next(3)])), ("country", Value.FromString(Countries[random.Next(5)])),
                ("email_opt_in", Value.FromBool(random.Next(2) == 0))));
            for (var p = random.Next(9); p > 0; p--)
            {
                state.Record(Event(c, 1 + p, "Purchased", Now - TimeSpan.FromDays(random.NextDouble() * 365), ("amount", Value.FromNumber(5 + random.Next(496)))));
            }

            yield return state;
            if (c % 4096 == 0)
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>Histories of <paramref name="eventsPerCustomer"/> events each: signup, profile update, then purchases and page views.</summary>
    public static async IAsyncEnumerable<CustomerHistory> Histories(int customers, int eventsPerCustomer)
    {
        var start = Now - TimeSpan.FromDays(90);
        for (var c = 0; c < customers; c++)
        {
            var random = new Random(c);
            var events = new List<CustomerEvent>(eventsPerCustomer)
            {
                Event(c, 0, "SignedUp", start + TimeSpan.FromDays(random.NextDouble() * 10)),
                Event(c, 1, "ProfileUpdated", start + TimeSpan.FromDays(10 + random.NextDouble() * 10),
                    ("plan", Value.FromString(Plans[random.Next(3)])), ("country", Value.FromString(Countries[random.Next(5)])),
                    ("email_opt_in", Value.FromBool(random.Next(2) == 0))),
            };
            for (var e = 2; e < eventsPerCustomer; e++)
            {
                var at = start + TimeSpan.FromDays(random.NextDouble() * 90);
                events.Add(random.Next(3) == 0
                    ? Event(c, e, "Purchased", at, ("amount", Value.FromNumber(5 + random.Next(496))))
                    : Event(c, e, "PageViewed", at));
            }

            yield return new CustomerHistory($"c{c}", events);
            if (c % 1024 == 0)
            {
                await Task.Yield();
            }
        }
    }

    private static CustomerEvent Event(int customer, int number, string type, DateTimeOffset at, params (string Name, Value Value)[] properties) => new()
    {
        EventId = $"{customer}-{number}",
        Type = type,
        OccurredAt = at,
        Properties = properties.ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal),
    };
}
