namespace Segmentation.Rules.Conflicts;

/// <summary>
/// How much work one <see cref="ConflictAnalyzer.Analyze"/> call may do. <paramref name="maxPairs"/> (a work budget,
/// deterministic) caps the pairs analysed, in the report's order; <paramref name="maxDuration"/> caps the time, read only
/// from <paramref name="clock"/>. Once either runs out, every pair not yet analysed is reported as
/// <see cref="FindingKind.Unknown"/> with <see cref="ConflictReport.BudgetExceededDescription"/>.
/// <paramref name="pairAnalysed"/>, when given, is told after each analysed pair how many have been analysed so far; in a
/// large group, whose pairs are analysed on several threads, it may be called from several threads at once.
/// </summary>
public sealed class ConflictAnalysisBudget
{
    public ConflictAnalysisBudget(long? maxPairs = null, TimeSpan? maxDuration = null, TimeProvider? clock = null, Action<long>? pairAnalysed = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPairs ?? 0, nameof(maxPairs));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDuration ?? TimeSpan.Zero, TimeSpan.Zero, nameof(maxDuration));
        if (maxDuration is not null && clock is null)
        {
            throw new ArgumentException("a time budget needs the clock to measure it", nameof(clock));
        }

        MaxPairs = maxPairs;
        MaxDuration = maxDuration;
        Clock = clock;
        PairAnalysed = pairAnalysed;
    }

    public long? MaxPairs { get; }

    public TimeSpan? MaxDuration { get; }

    public TimeProvider? Clock { get; }

    public Action<long>? PairAnalysed { get; }

    /// <summary>The running account of one analysis against this budget.</summary>
    internal Meter Start() => new(this, Clock?.GetTimestamp() ?? 0);

    /// <summary>The running account of one analysis, shared by the threads that analyse its pairs.</summary>
    internal sealed class Meter(ConflictAnalysisBudget budget, long startedAt)
    {
        private long analysed;
        private volatile bool timeUp;
        private volatile bool exceeded;

        public bool Exceeded => exceeded;

        /// <summary>
        /// Whether the pair with this index (in the report's order) may be analysed: the first <see cref="MaxPairs"/> may,
        /// whichever thread asks first; once time is up, none may.
        /// </summary>
        public bool Allows(long pairIndex)
        {
            if (!timeUp && budget.MaxDuration is { } limit && budget.Clock!.GetElapsedTime(startedAt) >= limit)
            {
                timeUp = true;
            }

            var allowed = !timeUp && !(pairIndex >= budget.MaxPairs);
            if (!allowed)
            {
                exceeded = true;
            }

            return allowed;
        }

        public void PairDone()
        {
            var count = Interlocked.Increment(ref analysed);
            budget.PairAnalysed?.Invoke(count);
        }
    }
}
