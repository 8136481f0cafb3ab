namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>
/// Waits for asynchronous delivery through the broker by polling the observable outcome; the
/// deadline only bounds a failing test, a passing one returns as soon as the condition holds.
/// </summary>
public static class Eventually
{
    public static async Task<T> Get<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await probe();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for {what}; last value: {value}");
            await Task.Delay(50);
        }
    }
}
