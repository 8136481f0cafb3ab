namespace Storefront.Simulator.Publishing;

/// <summary>
/// How many events may be sent so far to hold a target rate: a token bucket refilled from
/// elapsed time. A rate of 0 or less means unlimited. Clock reads go through
/// <see cref="TimeProvider"/> so the pacing is testable with a fake clock.
/// </summary>
public sealed class RatePacer
{
    private readonly TimeProvider clock;
    private readonly double eventsPerSecond;
    private readonly long startedAt;
    private readonly int maxBurst;

    public RatePacer(TimeProvider clock, double eventsPerSecond, int maxBurst)
    {
        this.clock = clock;
        this.eventsPerSecond = eventsPerSecond;
        this.maxBurst = maxBurst;
        startedAt = clock.GetTimestamp();
    }

    public bool Unlimited => eventsPerSecond <= 0;

    /// <summary>Events that may be sent now, given how many were already sent.</summary>
    public int Allowance(long alreadySent)
    {
        if (Unlimited) return maxBurst;
        var due = (long)Math.Floor(clock.GetElapsedTime(startedAt).TotalSeconds * eventsPerSecond);
        return (int)Math.Clamp(due - alreadySent, 0, maxBurst);
    }
}
