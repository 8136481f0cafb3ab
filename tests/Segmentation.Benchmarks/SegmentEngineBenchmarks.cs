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
/// Customers: a pool of <see cref="Customers"/> customers, each with three days of history (432 events, one every 10
/// minutes) built at set-up; operations take the customers in turn. Each operation builds the customer's next event (10
/// minutes after its previous one, so the windows always hold 144 and 288 events of all types) and brings every rule up to
/// date at the event's time. Every method then bounds the history of the event's type as a retention job would: once its
/// oldest event is 4 days old, the events at or before now - <see cref="Horizon"/> (3 days, longer than any window read, so
/// no result changes) are dropped. Each customer's history so stays between 432 and 576 events however many operations
/// BenchmarkDotNet runs.
/// </summary>
[MemoryDiagnoser]
public class SegmentEngineBenchmarks
{
    private const int SegmentsPerEventType = 30;
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly long Day = TimeSpan.TicksPerDay;

    /// <summary>Customers in the pool, taken in turn.</summary>
    private const int Customers = 8;

    /// <summary>Events before the first operation: three days, one every 10 minutes.</summary>
    private const int HistoryEvents = 432;

    /// <summary>Events at or before now - Horizon leave the history of the event's type (longest window read: 2 days).</summary>
    private static readonly long Horizon = 3 * TimeSpan.TicksPerDay;

    /// <summary>A type's history is trimmed once its oldest event is at or before now - TrimAfter.</summary>
    private static readonly long TrimAfter = 4 * TimeSpan.TicksPerDay;

    private SegmentEngine engine = null!;
    private CustomerState[] states = null!;
    private PeerCustomer[] peers = null!;
    private ISession[] nrules = null!;
    private global::RulesEngine.RulesEngine rulesEngine = null!;
    private RuleParameter[][] rulesEngineInputs = null!;
    private long[] sequences = null!;
    private int eventTypes;
    private int turn;

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
        var customer = NextCustomer();
        var e = Next(customer);
        var changes = engine.Apply(states[customer], e, e.OccurredAt).Changes.Count;
        Trim(states[customer], e);
        return changes;
    }

    /// <summary>Our engine with the dependency index switched off: every segment evaluated at every event.</summary>
    [Benchmark]
    public int FullReevaluation()
    {
        var customer = NextCustomer();
        var e = Next(customer);
        var changes = engine.Apply(states[customer], e, e.OccurredAt).Changes.Count;
        Trim(states[customer], e);
        return changes;
    }

    [GlobalSetup(Targets = [nameof(NRules), nameof(NRulesTouchedFactOnly)])]
    public void SetupNRules()
    {
        eventTypes = EventTypes(Segments);
        var factory = new RuleCompiler().Compile(Enumerable.Range(0, Segments).Select(NRulesRule));
        ISession NewSession(PeerCustomer customer)
        {
            var session = factory.CreateSession();
            session.Insert(customer.Profile);
            session.InsertAll(customer.Histories);
            session.Fire();
            return session;
        }

        VerifyAgainstEngine(customer =>
        {
            var session = NewSession(customer);
            return e =>
            {
                ApplyToPeer(customer, e);
                session.UpdateAll(customer.Histories);
                session.Fire();
                return customer.Qualifying;
            };
        });

        SetupPeers();
        nrules = [.. peers.Select(NewSession)];
    }

    /// <summary>
    /// NRules (Rete): one fact per event type holding that type's history, one profile fact. Time moved for every
    /// window, so every history fact is updated and the session fired; rules keep the qualifying set through
    /// activated/reactivated/deactivated actions.
    /// </summary>
    [Benchmark]
    public int NRules()
    {
        var customer = NextCustomer();
        var e = Next(customer);
        ApplyToPeer(peers[customer], e);
        nrules[customer].UpdateAll(peers[customer].Histories);
        return nrules[customer].Fire();
    }

    /// <summary>
    /// Lower bound for NRules, not the same results: only the fact of the event's type is updated, so Rete's alpha network
    /// re-evaluates just the ~30 rules of that type and the windows of the other types are not moved to the new time.
    /// </summary>
    [Benchmark]
    public int NRulesTouchedFactOnly()
    {
        var customer = NextCustomer();
        var e = Next(customer);
        var history = ApplyToPeer(peers[customer], e);
        nrules[customer].Update(history);
        return nrules[customer].Fire();
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
        VerifyAgainstEngine(customer => e =>
        {
            ApplyToPeer(customer, e);
            var results = rulesEngine.ExecuteAllRulesAsync("segments", [new RuleParameter("c", customer)]).AsTask().GetAwaiter().GetResult();
            return results.Where(r => r.IsSuccess).Select(r => int.Parse(r.Rule.RuleName.AsSpan(1), CultureInfo.InvariantCulture)).ToHashSet();
        });

        SetupPeers();
        rulesEngineInputs = [.. peers.Select(customer => new[] { new RuleParameter("c", customer) })];
    }

    /// <summary>
    /// Microsoft RulesEngine: one workflow of N rules (expressions compiled once and cached by the engine), all executed
    /// against the customer at every event; the result is the list of rules that hold.
    /// </summary>
    [Benchmark]
    public int RulesEngine()
    {
        var customer = NextCustomer();
        var e = Next(customer);
        ApplyToPeer(peers[customer], e);
        var results = rulesEngine.ExecuteAllRulesAsync("segments", rulesEngineInputs[customer]).AsTask().GetAwaiter().GetResult();
        return results.Count;
    }

    private static int EventTypes(int segments) => Math.Max(1, segments / SegmentsPerEventType);

    private void SetupEngine(bool incremental)
    {
        eventTypes = EventTypes(Segments);
        engine = new SegmentEngine(BenchmarkRuleset(), incremental);
        sequences = new long[Customers];
        states = [.. Enumerable.Range(0, Customers).Select(customer => NewEngineCustomer(engine, customer))];
    }

    /// <summary>A customer with <see cref="HistoryEvents"/> events recorded, then evaluated once at the last one.</summary>
    private CustomerState NewEngineCustomer(SegmentEngine with, int customer, int historyEvents = HistoryEvents)
    {
        var state = new CustomerState { CustomerId = $"c{customer}" };
        CustomerEvent? last = null;
        for (var i = 0; i < historyEvents; i++)
        {
            last = Next(customer);
            state.Record(last);
        }

        with.Evaluate(state, last!.OccurredAt);
        return state;
    }

    /// <summary>The peers' pool: the same customers with the same histories as <see cref="NewEngineCustomer"/>.</summary>
    private void SetupPeers()
    {
        sequences = new long[Customers];
        peers = [.. Enumerable.Range(0, Customers).Select(customer => NewPeerCustomer(customer))];
    }

    private PeerCustomer NewPeerCustomer(int customer) => NewPeerCustomer(customer, HistoryEvents);

    private PeerCustomer NewPeerCustomer(int customer, int historyEvents)
    {
        var peer = new PeerCustomer(eventTypes);
        for (var i = 0; i < historyEvents; i++)
        {
            ApplyToPeer(peer, Next(customer));
        }

        return peer;
    }

    private int NextCustomer()
    {
        var customer = turn;
        turn = (turn + 1) % Customers;
        return customer;
    }

    /// <summary>
    /// Once the oldest event of <paramref name="e"/>'s type is at or before e - <see cref="TrimAfter"/>, drops those at or
    /// before e - <see cref="Horizon"/> from the engine's history (as <see cref="PeerHistory.Trim"/> does for the peers).
    /// </summary>
    private static void Trim(CustomerState state, CustomerEvent e)
    {
        var list = state.EventsByType[e.Type];
        var now = e.OccurredAt.UtcTicks;
        if (list[0].OccurredAt.UtcTicks > now - TrimAfter)
        {
            return;
        }

        var old = 0;
        while (old < list.Count && list[old].OccurredAt.UtcTicks <= now - Horizon)
        {
            old++;
        }

        list.RemoveRange(0, old);
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

    /// <summary>
    /// The customer's next event: 10 minutes after its previous one; customers start on different event types and amounts.
    /// </summary>
    private CustomerEvent Next(int customer)
    {
        var sequence = ++sequences[customer];
        var shifted = sequence + customer;
        return new CustomerEvent
        {
            EventId = sequence.ToString("D12", CultureInfo.InvariantCulture),
            Type = $"Event{shifted % eventTypes}",
            OccurredAt = Start.AddMinutes(sequence * 10),
            Properties = new Dictionary<string, Value> { ["amount"] = Value.FromNumber(shifted % 40) },
        };
    }

    /// <summary>
    /// The peers get the same event (built the same way) and drop the same expired events; returns the history fact of
    /// its type.
    /// </summary>
    private PeerHistory ApplyToPeer(PeerCustomer peer, CustomerEvent e)
    {
        var history = peer.Histories[int.Parse(e.Type.AsSpan("Event".Length), CultureInfo.InvariantCulture)];
        history.Add(e.OccurredAt.UtcTicks, e.Properties["amount"].AsNumber);
        history.Trim(e.OccurredAt.UtcTicks, TrimAfter, Horizon);
        peer.Now = e.OccurredAt.UtcTicks;
        return history;
    }

    /// <summary>
    /// Fairness check at set-up, on a customer built as the pool's are but with four days of history, so that trimming
    /// happens during the check: after each of 60 further events the peer's qualifying segments equal our engine's.
    /// </summary>
    private void VerifyAgainstEngine(Func<PeerCustomer, Func<CustomerEvent, IReadOnlySet<int>>> startPeer)
    {
        const int customer = 1;
        var check = new SegmentEngine(BenchmarkRuleset());
        sequences = new long[Customers];
        var checkState = NewEngineCustomer(check, customer, HistoryEvents + 144);
        sequences = new long[Customers];
        var peer = NewPeerCustomer(customer, HistoryEvents + 144);
        var applyToPeer = startPeer(peer);
        for (var i = 0; i < 60; i++)
        {
            var e = Next(customer);
            var theirs = applyToPeer(e);
            check.Apply(checkState, e, e.OccurredAt);
            Trim(checkState, e);
            var ours = checkState.Qualifying.Select(name => int.Parse(name.AsSpan(1), CultureInfo.InvariantCulture)).ToHashSet();
            if (!ours.SetEquals(theirs))
            {
                throw new InvalidOperationException($"peer disagrees with the engine at event {sequences[customer]}: {ours.Count} vs {theirs.Count} qualifying");
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

        // The actions keep the qualifying set of the customer whose profile matched (one session per customer).
        var context = Expression.Parameter(typeof(IContext), "ctx");
        var rhs = builder.RightHandSide();
        var qualifying = Expression.Property(p, nameof(PeerProfile.Qualifying));
        rhs.Action(
            Expression.Lambda(Expression.Call(qualifying, nameof(HashSet<int>.Add), null, Expression.Constant(i)), context, p),
            ActionTrigger.Activated | ActionTrigger.Reactivated);
        rhs.Action(
            Expression.Lambda(Expression.Call(qualifying, nameof(HashSet<int>.Remove), null, Expression.Constant(i)), context, p),
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

    /// <summary>Once the oldest event is at or before now - trimAfter, drops those at or before now - horizon.</summary>
    public void Trim(long now, long trimAfter, long horizon)
    {
        if (times.Count == 0 || times[0] > now - trimAfter)
        {
            return;
        }

        var old = 0;
        while (old < times.Count && times[old] <= now - horizon)
        {
            old++;
        }

        times.RemoveRange(0, old);
        amounts.RemoveRange(0, old);
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

    /// <summary>Segments whose rule holds, kept by the NRules actions.</summary>
    public HashSet<int> Qualifying { get; } = [];
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
    internal HashSet<int> Qualifying => Profile.Qualifying;

    public int Count(int type, int windowHours) => Histories[type].Count(windowHours * TimeSpan.TicksPerHour);

    public double Sum(int type, int windowHours) => Histories[type].Sum(windowHours * TimeSpan.TicksPerHour);
}
