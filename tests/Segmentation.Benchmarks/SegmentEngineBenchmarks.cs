using System.Globalization;
using System.Linq.Expressions;
using System.Text;
using BenchmarkDotNet.Attributes;
using NRules;
using NRules.RuleModel;
using NRules.RuleModel.Builders;
using RulesEngine.Models;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Benchmarks;

/// <summary>
/// Cost of applying one event to one customer, for our engine (incremental and full re-evaluation) and for the same
/// rules in NRules and Microsoft RulesEngine. Segments are spread over event types so that one event touches about
/// thirty of them, as in a large ruleset where each rule reads a few event types. Segment i reads event type
/// <c>Event{i % types}</c>: <c>count(T, 1d) &gt;= i % 5 and sum(T.amount, 2d) &lt; 100 + i or plan == "team"</c>; every
/// tenth segment is in one exclusive group (24h cooldown), which only our engine arbitrates.
/// Each operation builds one new event (10 minutes after the previous one, so the windows always hold 144 and 288
/// events) and brings every rule up to date at the event's time.
/// </summary>
[MemoryDiagnoser]
public class SegmentEngineBenchmarks
{
    private const int SegmentsPerEventType = 30;
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly long Day = TimeSpan.TicksPerDay;

    private SegmentEngine engine = null!;
    private CustomerState state = null!;
    private PeerCustomer peer = null!;
    private ISession nrules = null!;
    private global::RulesEngine.RulesEngine rulesEngine = null!;
    private RuleParameter[] rulesEngineInput = null!;
    private int eventTypes;
    private long sequence;

    [Params(10, 100, 1_000, 10_000)]
    public int Segments { get; set; }

    [GlobalSetup(Targets = [nameof(Incremental)])]
    public void SetupIncremental() => SetupEngine(incremental: true);

    [GlobalSetup(Targets = [nameof(FullReevaluation)])]
    public void SetupFull() => SetupEngine(incremental: false);

    /// <summary>Our engine: the dependency index picks the ~30 segments the event touches, the due index those whose window moved.</summary>
    [Benchmark(Baseline = true)]
    public int Incremental()
    {
        var e = Next();
        return engine.Apply(state, e, e.OccurredAt).Changes.Count;
    }

    /// <summary>Our engine with the dependency index switched off: every segment evaluated at every event.</summary>
    [Benchmark]
    public int FullReevaluation()
    {
        var e = Next();
        return engine.Apply(state, e, e.OccurredAt).Changes.Count;
    }

    [GlobalSetup(Targets = [nameof(NRules), nameof(NRulesTouchedFactOnly)])]
    public void SetupNRules()
    {
        eventTypes = EventTypes(Segments);
        peer = new PeerCustomer(eventTypes);
        var factory = new RuleCompiler().Compile(Enumerable.Range(0, Segments).Select(NRulesRule));
        nrules = factory.CreateSession();
        nrules.Insert(peer.Profile);
        nrules.InsertAll(peer.Histories);
        VerifyAgainstEngine(e =>
        {
            ApplyToPeer(e);
            nrules.UpdateAll(peer.Histories);
            nrules.Fire();
            return peer.Qualifying;
        });
    }

    /// <summary>
    /// NRules (Rete): one fact per event type holding that type's history, one profile fact. Time moved for every
    /// window, so every history fact is updated and the session fired; rules keep the qualifying set through
    /// activated/reactivated/deactivated actions.
    /// </summary>
    [Benchmark]
    public int NRules()
    {
        var e = Next();
        ApplyToPeer(e);
        nrules.UpdateAll(peer.Histories);
        return nrules.Fire();
    }

    /// <summary>
    /// Lower bound for NRules, not the same results: only the fact of the event's type is updated, so Rete's alpha network
    /// re-evaluates just the ~30 rules of that type and the windows of the other types are not moved to the new time.
    /// </summary>
    [Benchmark]
    public int NRulesTouchedFactOnly()
    {
        var e = Next();
        var history = ApplyToPeer(e);
        nrules.Update(history);
        return nrules.Fire();
    }

    [GlobalSetup(Targets = [nameof(RulesEngine)])]
    public void SetupRulesEngine()
    {
        eventTypes = EventTypes(Segments);
        var workflow = new Workflow
        {
            WorkflowName = "segments",
            Rules = [.. Enumerable.Range(0, Segments).Select(i => new Rule
            {
                RuleName = $"s{i}",
                Expression = string.Create(CultureInfo.InvariantCulture,
                    $"(c.Count({i % eventTypes}, 24) >= {i % 5} && c.Sum({i % eventTypes}, 48) < {100 + i}) || c.Plan == \"team\""),
            })],
        };
        rulesEngine = new global::RulesEngine.RulesEngine([workflow], new ReSettings { CustomTypes = [typeof(PeerCustomer)] });
        peer = new PeerCustomer(eventTypes);
        rulesEngineInput = [new RuleParameter("c", peer)];
        VerifyAgainstEngine(e =>
        {
            ApplyToPeer(e);
            var results = rulesEngine.ExecuteAllRulesAsync("segments", rulesEngineInput).AsTask().GetAwaiter().GetResult();
            return results.Where(r => r.IsSuccess).Select(r => int.Parse(r.Rule.RuleName.AsSpan(1), CultureInfo.InvariantCulture)).ToHashSet();
        });
    }

    /// <summary>
    /// Microsoft RulesEngine: one workflow of N rules (expressions compiled once and cached by the engine), all executed
    /// against the customer at every event; the result is the list of rules that hold.
    /// </summary>
    [Benchmark]
    public int RulesEngine()
    {
        var e = Next();
        ApplyToPeer(e);
        var results = rulesEngine.ExecuteAllRulesAsync("segments", rulesEngineInput).AsTask().GetAwaiter().GetResult();
        return results.Count;
    }

    private static int EventTypes(int segments) => Math.Max(1, segments / SegmentsPerEventType);

    private void SetupEngine(bool incremental)
    {
        eventTypes = EventTypes(Segments);
        engine = new SegmentEngine(BenchmarkRuleset(), incremental);
        state = new CustomerState { CustomerId = "c1" };
        engine.Apply(state, Next(), Start);
    }

    private Ruleset BenchmarkRuleset()
    {
        var yaml = new StringBuilder("attributes:\n  plan: { enum: [free, pro, team] }\ngroups:\n  contact: { exclusive: true, cooldown: 24h }\nsegments:\n");
        for (var i = 0; i < Segments; i++)
        {
            var type = $"Event{i % eventTypes}";
            yaml.Append(CultureInfo.InvariantCulture, $"  s{i}:\n");
            if (i % 10 == 0)
            {
                yaml.Append(CultureInfo.InvariantCulture, $"    group: contact\n    priority: {i % 7}\n");
            }

            yaml.Append(CultureInfo.InvariantCulture, $"    when: count({type}, 1d) >= {i % 5} and sum({type}.amount, 2d) < {100 + i} or plan == \"team\"\n");
        }

        var loaded = RulesetLoader.Load(yaml.ToString(), "benchmark.yaml");
        return loaded.Ruleset ?? throw new InvalidOperationException(string.Join("\n", loaded.Errors));
    }

    private CustomerEvent Next()
    {
        sequence++;
        return new CustomerEvent
        {
            EventId = sequence.ToString("D12", CultureInfo.InvariantCulture),
            Type = $"Event{sequence % eventTypes}",
            OccurredAt = Start.AddMinutes(sequence * 10),
            Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(sequence % 40) },
        };
    }

    /// <summary>The peers get the same event (built the same way); returns the history fact of its type.</summary>
    private PeerHistory ApplyToPeer(CustomerEvent e)
    {
        var history = peer.Histories[(int)(sequence % eventTypes)];
        history.Add(e.OccurredAt.UtcTicks, e.Properties["amount"].AsNumber);
        peer.Now = e.OccurredAt.UtcTicks;
        return history;
    }

    /// <summary>Fairness check at set-up: after each of 60 events the peer's qualifying segments equal our engine's.</summary>
    private void VerifyAgainstEngine(Func<CustomerEvent, IReadOnlySet<int>> applyToPeer)
    {
        var check = new SegmentEngine(BenchmarkRuleset());
        var checkState = new CustomerState { CustomerId = "check" };
        for (var i = 0; i < 60; i++)
        {
            var e = Next();
            var theirs = applyToPeer(e);
            check.Apply(checkState, e, e.OccurredAt);
            var ours = checkState.Qualifying.Select(name => int.Parse(name.AsSpan(1), CultureInfo.InvariantCulture)).ToHashSet();
            if (!ours.SetEquals(theirs))
            {
                throw new InvalidOperationException($"peer disagrees with the engine at event {sequence}: {ours.Count} vs {theirs.Count} qualifying");
            }
        }
    }

    /// <summary>
    /// Segment i as an NRules rule built with the rule model (the fluent DSL needs one class per rule):
    /// profile p, history h of the segment's type (alpha test on the type, shared by the rules of that type),
    /// condition on (h, p); actions keep the peer's qualifying set.
    /// </summary>
    private IRuleDefinition NRulesRule(int i)
    {
        var builder = new RuleBuilder();
        builder.Name($"s{i}");
        var lhs = builder.LeftHandSide();
        var profilePattern = lhs.Pattern(typeof(PeerProfile), "p");
        var historyPattern = lhs.Pattern(typeof(PeerHistory), "h");
        var p = Expression.Parameter(typeof(PeerProfile), "p");
        var h = Expression.Parameter(typeof(PeerHistory), "h");
        historyPattern.Condition(Expression.Lambda(
            Expression.Equal(Expression.Property(h, nameof(PeerHistory.Type)), Expression.Constant(i % eventTypes)), h));
        var count = Expression.Call(h, nameof(PeerHistory.Count), null, Expression.Constant(Day));
        var sum = Expression.Call(h, nameof(PeerHistory.Sum), null, Expression.Constant(2 * Day));
        var team = Expression.Equal(Expression.Property(p, nameof(PeerProfile.Plan)), Expression.Constant("team", typeof(string)));
        historyPattern.Condition(Expression.Lambda(
            Expression.OrElse(
                Expression.AndAlso(
                    Expression.GreaterThanOrEqual(count, Expression.Constant(i % 5)),
                    Expression.LessThan(sum, Expression.Constant(100.0 + i))),
                team),
            h, p));
        _ = profilePattern;

        var context = Expression.Parameter(typeof(IContext), "ctx");
        var rhs = builder.RightHandSide();
        var qualifying = Expression.Constant(peer.Qualifying);
        rhs.Action(
            Expression.Lambda(Expression.Call(qualifying, nameof(HashSet<int>.Add), null, Expression.Constant(i)), context),
            ActionTrigger.Activated | ActionTrigger.Reactivated);
        rhs.Action(
            Expression.Lambda(Expression.Call(qualifying, nameof(HashSet<int>.Remove), null, Expression.Constant(i)), context),
            ActionTrigger.Deactivated);
        return builder.Build();
    }
}

/// <summary>The history of one event type for the peers: occurrence ticks in order and amounts, windows (now - W, now].</summary>
public sealed class PeerHistory(int type, PeerCustomer customer)
{
    private readonly List<long> times = [];
    private readonly List<double> amounts = [];

    public int Type { get; } = type;

    public void Add(long ticks, double amount)
    {
        var at = times.Count;
        while (at > 0 && times[at - 1] > ticks)
        {
            at--;
        }

        times.Insert(at, ticks);
        amounts.Insert(at, amount);
    }

    public int Count(long window) => UpTo(customer.Now) - UpTo(customer.Now - window);

    public double Sum(long window)
    {
        var total = 0.0;
        for (int i = UpTo(customer.Now - window), end = UpTo(customer.Now); i < end; i++)
        {
            total += amounts[i];
        }

        return total;
    }

    private int UpTo(long ticks)
    {
        int low = 0, high = times.Count;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (times[middle] <= ticks)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }
}

public sealed class PeerProfile
{
    public string? Plan { get; set; }
}

/// <summary>One customer for the peers: the clock, one history per event type, the profile and the qualifying segments.</summary>
public sealed class PeerCustomer
{
    public PeerCustomer(int eventTypes)
    {
        Histories = [.. Enumerable.Range(0, eventTypes).Select(type => new PeerHistory(type, this))];
    }

    public long Now { get; set; }

    public PeerHistory[] Histories { get; }

    public PeerProfile Profile { get; } = new();

    public string? Plan => Profile.Plan;

    /// <summary>Segments whose rule holds, kept by the NRules actions.</summary>
    internal HashSet<int> Qualifying { get; } = [];

    public int Count(int type, int windowHours) => Histories[type].Count(windowHours * TimeSpan.TicksPerHour);

    public double Sum(int type, int windowHours) => Histories[type].Sum(windowHours * TimeSpan.TicksPerHour);
}
