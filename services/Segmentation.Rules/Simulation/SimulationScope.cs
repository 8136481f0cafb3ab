using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;

namespace Segmentation.Rules.Simulation;

/// <summary>One customer's stored history, as replay reads it.</summary>
public sealed record CustomerHistory(string CustomerId, IReadOnlyList<CustomerEvent> Events);

/// <summary>What a simulation runs over, and at which instants.</summary>
public abstract record SimulationScope
{
    private protected SimulationScope()
    {
    }
}

/// <summary>
/// The candidate evaluated once, at <paramref name="At"/>, on each current profile, as if it were activated then: each
/// state is cloned and re-evaluated the way the live sweeper re-evaluates a customer after an activation (segments the
/// candidate lacks are exited, a held exclusive segment that still qualifies keeps its slot, cooldowns carry over).
/// Entries and exits are counted against the profile's current memberships. A profile that keeps less of the history
/// than the candidate or the baseline reads (a longer window, another type or property) is refolded from the history
/// <paramref name="HistoryOf"/> gives, so the answer is the one full history gives; without it such a profile fails the
/// simulation rather than be answered from missing events.
/// </summary>
public sealed record SnapshotScope(
    IAsyncEnumerable<CustomerState> Profiles,
    DateTimeOffset At,
    Func<string, CancellationToken, Task<IReadOnlyList<CustomerEvent>>>? HistoryOf = null) : SimulationScope;

/// <summary>
/// Backtest: each customer's history is replayed from its first event through the real engine with a virtual clock,
/// evaluating at each event (in occurrence order) and at every instant that falls due, up to <paramref name="To"/>, as
/// if the ruleset had been live all along. Exactly what <see cref="SegmentEngine.Replay"/> computes. Figures count what
/// happens from <paramref name="From"/> to <paramref name="To"/>; earlier evaluations only build the state.
/// </summary>
public sealed record ReplayScope(IAsyncEnumerable<CustomerHistory> Histories, DateTimeOffset From, DateTimeOffset To) : SimulationScope;

/// <summary>Tuning that does not change the figures.</summary>
public sealed record SimulationOptions
{
    /// <summary>Workers evaluating customers in parallel (default: one per core).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Customer ids kept per diff or overlap list: the smallest ids (ordinal), so the lists are deterministic.</summary>
    public int ExampleCustomers { get; init; } = 100;

    /// <summary>Called with the number of customers simulated so far, once per batch.</summary>
    public IProgress<long>? Progress { get; init; }
}
