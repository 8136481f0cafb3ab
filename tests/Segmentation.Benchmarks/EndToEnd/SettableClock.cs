namespace Segmentation.Benchmarks.EndToEnd;

/// <summary>A clock the load run moves itself; the service's timers still run on real time.</summary>
internal sealed class SettableClock(DateTimeOffset start) : TimeProvider
{
    private long utcTicks = start.UtcTicks;

    public void Set(DateTimeOffset now) => Interlocked.Exchange(ref utcTicks, now.UtcTicks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref utcTicks), TimeSpan.Zero);
}
