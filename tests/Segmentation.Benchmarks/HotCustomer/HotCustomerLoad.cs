using System.Diagnostics;
using System.Globalization;
using MassTransit;
using Npgsql;
using Segmentation.Benchmarks.EndToEnd;
using SegmentationEvents.Contracts;

namespace Segmentation.Benchmarks.HotCustomer;

/// <summary>
/// The cost of one event as one customer's history grows:
/// <c>dotnet run -c Release --project tests/Segmentation.Benchmarks -- hot-customer [events] [max-minutes] [span-days] [clock]</c>.
/// One service instance with <c>hot-customer-ruleset.yaml</c> (windows of 1 to 30 days); the events of one customer,
/// mostly PageViewed, in occurrence order over the <c>span-days</c> (default 90) before now, published one at a time,
/// each waited for until the service has stored it (its events-consumed counter, counted after the commit).
/// <c>clock</c> <c>now</c> (default): the service's clock is the machine's, so the events arrive late and only the last
/// 30 days of them fall in the windows; <c>events</c>: the service's clock is set to each event's occurrence time
/// before it is published, as if the history were lived, so the windows hold their steady share of it from early on.
/// Publishing stops at the time limit (default 10 minutes) so a slow write path still reports the curve it reached.
/// </summary>
internal static class HotCustomerLoad
{
    private const string CustomerId = "hot-customer";
    private const int Bucket = 500;

    public static async Task<int> Run(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var timeLimit = TimeSpan.FromMinutes(args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10);
        var span = TimeSpan.FromDays(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 90);
        var lived = args.Length > 3 && args[3] == "events";
        var end = DateTimeOffset.UtcNow;
        var clock = lived ? new SettableClock(end - span) : null;
        await using var environment = await LoadEnvironment.Create();
        var rulesetPath = Path.Combine(LoadEnvironment.RepositoryRoot(), "tests", "Segmentation.Benchmarks", "HotCustomer", "hot-customer-ruleset.yaml");

        using var stored = new SemaphoreSlim(0);
        using var listener = Measurements.ListenTo<long>("segmentation.events.consumed", _ => stored.Release());
        using var service = await environment.StartService(rulesetPath, clock);
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(environment.RabbitMqUrl));
        await bus.StartAsync();

        Console.WriteLine($"service: {events:N0} events of one customer over {span.TotalDays:0} days, one at a time, each waited for until stored " +
            $"(at most {timeLimit.TotalMinutes:0} minutes), service clock {(lived ? "at each event's time" : "now")} ...");
        var loadAtStart = Measurements.LoadAverage();
        var milliseconds = new List<double>();
        var profileSizes = new List<ProfileSize>();
        var run = Stopwatch.StartNew();
        foreach (var message in History(events, end, span))
        {
            if (run.Elapsed > timeLimit) break;
            clock?.Set(((ICustomerLifecycleEvent)message).OccurredAt);
            var published = Stopwatch.GetTimestamp();
            await bus.Publish(message, message.GetType());
            if (!await stored.WaitAsync(TimeSpan.FromMinutes(2)))
                throw new TimeoutException($"event {milliseconds.Count} was not stored within 2 minutes");
            milliseconds.Add(Stopwatch.GetElapsedTime(published).TotalMilliseconds);
            if (milliseconds.Count % Bucket == 0)
            {
                profileSizes.Add(await MeasureProfile(environment));
                Console.WriteLine($"  {milliseconds.Count:N0} events, last {Bucket}: {milliseconds.TakeLast(Bucket).Average():0.0} ms/event");
            }
        }
        await bus.StopAsync();
        await service.StopAsync();
        var final = await MeasureProfile(environment);

        Console.WriteLine();
        Console.WriteLine($"hot-customer {events} over {span.TotalDays:0} days, clock {(lived ? "events" : "now")}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, " +
            $"load average {loadAtStart} at the start and {Measurements.LoadAverage()} at the end: {milliseconds.Count:N0} of {events:N0} events stored" +
            (milliseconds.Count < events ? $" (stopped at the {timeLimit.TotalMinutes:0}-minute limit)" : ""));
        Print(milliseconds, profileSizes, final);
        return 0;
    }

    /// <summary>Mostly page views (a tenth of them of /pricing), one purchase in 25, evenly spaced in occurrence time.</summary>
    private static IEnumerable<ICustomerLifecycleEvent> History(int events, DateTimeOffset end, TimeSpan span)
    {
        var random = new Random(42);
        string[] pages = ["/", "/products", "/products/shoes", "/products/bags", "/cart", "/blog/spring", "/help"];
        var step = span / events;
        for (var i = 0; i < events; i++)
        {
            var occurredAt = end - span + step * i;
            yield return random.Next(25) == 0
                ? new OrderPurchased(Guid.NewGuid(), CustomerId, occurredAt, $"o-{i}", random.Next(10, 80), "EUR")
                : new CustomerEvent(Guid.NewGuid(), CustomerId, "PageViewed", occurredAt, new Dictionary<string, object?>
                {
                    ["path"] = random.Next(10) == 0 ? "/pricing" : pages[random.Next(pages.Length)],
                });
        }
    }

    private sealed record ProfileSize(int Events, int JsonChars, int StoredBytes);

    /// <summary>A clock the benchmark moves to each event's occurrence time; timers still run on the machine's.</summary>
    /// <summary>The profile document itself, read directly: the service's API shows a view of it, not its size.</summary>
    private static async Task<ProfileSize> MeasureProfile(LoadEnvironment environment)
    {
        await using var connection = new NpgsqlConnection(environment.PostgresConnection);
        await connection.OpenAsync();
        await using var size = new NpgsqlCommand($"""
            SELECT coalesce((data -> 'EventTypes' -> 'PageViewed' ->> 'Count')::int, 0)
                   + coalesce((data -> 'EventTypes' -> 'Purchased' ->> 'Count')::int, 0),
                   length(data::text), pg_column_size(data)
            FROM {environment.Name}.mt_doc_customerprofile WHERE id = @id
            """, connection);
        size.Parameters.AddWithValue("id", CustomerId);
        await using var reader = await size.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new ProfileSize(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2));
    }

    private static void Print(List<double> milliseconds, List<ProfileSize> profileSizes, ProfileSize final)
    {
        var count = milliseconds.Count;
        var first = milliseconds.Take(1_000).ToList();
        var last = milliseconds.TakeLast(1_000).ToList();
        Console.WriteLine();
        Console.WriteLine("| Events stored | ms/event, mean / p95 of these | Profile document after them (JSON chars / bytes stored) |");
        Console.WriteLine("|---|---:|---:|");
        for (var start = 0; start < count; start += Bucket)
        {
            var bucket = milliseconds.Skip(start).Take(Bucket).ToList();
            var size = profileSizes.FirstOrDefault(s => s.Events == start + bucket.Count) ?? final;
            Console.WriteLine($"| {start:N0}–{start + bucket.Count:N0} | {bucket.Average():0.0} / {Measurements.Percentile(bucket, 0.95):0.0} | " +
                $"{size.JsonChars:N0} / {size.StoredBytes:N0} |");
        }
        Console.WriteLine();
        Console.WriteLine("| Measure | Value |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine($"| ms/event, events 0–{first.Count:N0} | {first.Average():0.0} |");
        Console.WriteLine($"| ms/event, events {count - last.Count:N0}–{count:N0} | {last.Average():0.0} |");
        Console.WriteLine($"| Ratio last / first | {last.Average() / first.Average():0.0} |");
        Console.WriteLine($"| Events/s, one at a time ({count:N0} events / {milliseconds.Sum() / 1000:0} s publish → stored) | {count / (milliseconds.Sum() / 1000):0.0} |");
        Console.WriteLine($"| Profile document at the end | {final.JsonChars:N0} chars of JSON, {final.StoredBytes:N0} bytes stored |");
    }
}
