using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Hosting;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Membership;

/// <summary>
/// The sweepers share the due customers through leases on the schedule: two never decide the same customer in one
/// pass, and the customers a crashed sweeper had taken are decided by another once its lease has run out.
/// </summary>
public sealed class DueCustomerSweepTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    internal static readonly DateTimeOffset SignedUpAt = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    // The sweepers' own timer never fires in these tests: each pass is started by the test.
    internal static SegmentationSettings Settings(SegmentationSettings s) =>
        s with { RulesetPath = ExampleRuleset.Path, SweepInterval = TimeSpan.FromDays(30), SweepBatchSize = 4, RunRelay = false };

    [Fact]
    public async Task Two_sweepers_at_the_same_instant_split_the_due_customers_and_never_both_decide_one()
    {
        var time = new FakeTimeProvider(SignedUpAt);
        await using var first = await ServiceUnderTest.Start(servers, time, Settings);
        await using var second = await ServiceUnderTest.Start(servers, time, Settings);
        using var firstRaces = Retries(first);
        using var secondRaces = Retries(second);
        var customers = await SignUp(first, "split", 40);
        firstRaces.Clear();
        secondRaces.Clear(); // the two instances' consumers raced on the sign-ups; the sweepers must not

        time.Advance(TimeSpan.FromDays(3));
        var decided = await Task.WhenAll(Sweeper(first).SweepOnce(CancellationToken.None), Sweeper(second).SweepOnce(CancellationToken.None));

        Assert.Equal(customers.Count, decided.Sum());
        Assert.All(decided, n => Assert.True(n > 0, $"one sweeper decided nothing: {string.Join(" / ", decided)}"));
        Assert.Equal(0, firstRaces.GetMeasurementSnapshot().Sum(m => m.Value) + secondRaces.GetMeasurementSnapshot().Sum(m => m.Value));
        foreach (var customer in customers)
        {
            var dueDecisions = (await Facts(first, customer)).OfType<CustomerEvaluated>().Count(e => e.At >= SignedUpAt.AddDays(3));
            Assert.Equal(1, dueDecisions);
            Assert.Contains((await Facts(first, customer)).OfType<CustomerEnteredSegment>(), e => e.Segment == "welcome_day_3");
        }
    }

    [Fact]
    public async Task Customers_leased_by_a_sweeper_that_died_are_decided_by_another_once_the_lease_ends()
    {
        var time = new FakeTimeProvider(SignedUpAt);
        await using var service = await ServiceUnderTest.Start(servers, time, Settings);
        var customers = await SignUp(service, "crashed", 6);
        time.Advance(TimeSpan.FromDays(3));
        var now = time.GetUtcNow();
        var lease = service.Services.GetRequiredService<SegmentationSettings>().SweepLease;

        // A sweeper takes the due customers and dies before deciding them.
        var taken = await service.Services.GetRequiredService<CustomerSchedule>()
            .Claim(now, staleFor: null, count: 100, now + lease, "crashed-instance", CancellationToken.None);
        Assert.Equal(customers.Order(StringComparer.Ordinal), taken.Select(c => c.CustomerId).Order(StringComparer.Ordinal));

        Assert.Equal(0, await Sweeper(service).SweepOnce(CancellationToken.None));
        time.Advance(lease);
        Assert.Equal(customers.Count, await Sweeper(service).SweepOnce(CancellationToken.None));
        Assert.Equal(0, await Sweeper(service).SweepOnce(CancellationToken.None));
        foreach (var customer in customers)
            Assert.Contains((await Facts(service, customer)).OfType<CustomerEnteredSegment>(), e => e.Segment == "welcome_day_3" && e.At == SignedUpAt.AddDays(3));
    }

    [Fact]
    public async Task With_nobody_due_a_pass_decides_nothing_and_a_customer_decided_since_is_not_taken_again()
    {
        var time = new FakeTimeProvider(SignedUpAt);
        await using var service = await ServiceUnderTest.Start(servers, time, Settings);
        var customers = await SignUp(service, "early", 3);
        Assert.Equal(0, await Sweeper(service).SweepOnce(CancellationToken.None));

        time.Advance(TimeSpan.FromDays(3));
        await using var upstream = await UpstreamPublisher.Connect(servers);
        await upstream.Publish(new OrderPurchased(Guid.NewGuid(), customers[0], time.GetUtcNow(), $"{customers[0]}-o", 20m, "EUR"));
        await Eventually.Get(() => service.StoredEvents(customers[0]), events => events.Count == 3, "the purchase stored");

        // The purchase's decision covered the due time and set the next check: only the other two are due.
        Assert.Equal(2, await Sweeper(service).SweepOnce(CancellationToken.None));
    }

    [Fact]
    public async Task Customers_stored_before_the_schedule_existed_are_filled_in_once_and_swept_when_due()
    {
        var time = new FakeTimeProvider(SignedUpAt);
        await using var service = await ServiceUnderTest.Start(servers, time, Settings);
        var customers = await SignUp(service, "before", 3);

        // As a deployment that stored these customers before the schedule existed: no rows, and no fill done.
        await using (var connection = new Npgsql.NpgsqlConnection(servers.PostgresConnection))
        {
            await connection.OpenAsync();
            await using var forget = new Npgsql.NpgsqlCommand(
                $"DELETE FROM {servers.SchemaName}.{CustomerSchedule.TableName} WHERE customer_id = ANY($1)", connection) { Parameters = { new() { Value = customers.ToArray() } } };
            Assert.Equal(3, await forget.ExecuteNonQueryAsync());
        }
        await using (var session = service.Store.LightweightSession())
        {
            session.Delete<ScheduleBackfill>(ScheduleBackfill.DocumentId);
            await session.SaveChangesAsync();
        }
        time.Advance(TimeSpan.FromDays(3));
        Assert.Equal(0, await Sweeper(service).SweepOnce(CancellationToken.None));

        await service.Services.GetRequiredService<CustomerScheduleBackfill>().Run(CancellationToken.None);
        Assert.Equal(3, await Sweeper(service).SweepOnce(CancellationToken.None));
        foreach (var customer in customers)
            Assert.Contains((await Facts(service, customer)).OfType<CustomerEnteredSegment>(), e => e.Segment == "welcome_day_3");
        await using (var session = service.Store.QuerySession())
            Assert.True((await session.LoadAsync<ScheduleBackfill>(ScheduleBackfill.DocumentId))!.Done);
    }

    private Task<List<string>> SignUp(ServiceUnderTest service, string prefix, int count) => SignUp(servers, service, prefix, count);

    /// <summary>Customers signed up at <see cref="SignedUpAt"/> (opted in: welcomed on day 3), once both events are stored.</summary>
    internal static async Task<List<string>> SignUp(IsolatedServers servers, ServiceUnderTest service, string prefix, int count, bool optIn = true)
    {
        await using var upstream = await UpstreamPublisher.Connect(servers);
        var customers = Enumerable.Range(0, count).Select(i => $"{prefix}-{i}-{Guid.NewGuid():N}").ToList();
        foreach (var customer in customers)
        {
            await upstream.Publish(new CustomerSignedUp(Guid.NewGuid(), customer, SignedUpAt, $"{customer}@example.com", "FR"));
            await upstream.Publish(new ProfileUpdated(Guid.NewGuid(), customer, SignedUpAt, new Dictionary<string, object?> { ["email_opt_in"] = optIn }));
        }

        await Eventually.Get(async () =>
        {
            await using var session = service.Store.QuerySession();
            return await session.LoadManyAsync<CustomerProfile>(customers);
        }, profiles => profiles.Count == count && profiles.All(p => p.EventTypes.Values.Sum(t => t.Count) == 2), $"{count} customers signed up");
        return customers;
    }

    private static DueCustomerSweeper Sweeper(ServiceUnderTest service) => service.Services.GetRequiredService<DueCustomerSweeper>();

    private static async Task<IReadOnlyList<object>> Facts(ServiceUnderTest service, string customer)
    {
        await using var session = service.Store.QuerySession();
        return [.. (await session.Events.FetchStreamAsync(customer)).Select(e => e.Data)];
    }

    private static MetricCollector<long> Retries(ServiceUnderTest service) => new(
        service.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
        SegmentationMetrics.MeterName, "segmentation.concurrency.retries");
}
