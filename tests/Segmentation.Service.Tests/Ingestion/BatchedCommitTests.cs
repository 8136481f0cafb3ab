using JasperFx;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Ingestion;

/// <summary>
/// The batcher against real PostgreSQL: batches of exactly two events (the batch wait never ends on the fake clock, so
/// a writer commits when its second event arrives), one writer, and a session listener that plays a concurrent writer
/// or a failing event at the moment a batch commits.
/// </summary>
public sealed class BatchedCommitTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private readonly CommitInterference _interference = new();
    private ServiceUnderTest _service = null!;

    public async Task InitializeAsync()
    {
        _service = await ServiceUnderTest.Start(servers, _time, s => s with { RulesetPath = ExampleRuleset.Path },
            configuration: new Dictionary<string, string?>
            {
                ["Segmentation:Ingestion:BatchSize"] = "2",
                ["Segmentation:Ingestion:BatchWait"] = "01:00:00",
                ["Segmentation:Ingestion:Writers"] = "1",
            },
            services: s => s.ConfigureMarten(o => o.Listeners.Add(_interference)));
        _interference.Services = _service.Services;
    }

    public Task DisposeAsync() => _service.DisposeAsync().AsTask();

    [Fact]
    public async Task Two_customers_events_are_committed_in_one_transaction()
    {
        var (first, second) = (NewCustomerId(), NewCustomerId());

        await Task.WhenAll(Submit(Purchase(first, 700m)), Submit(Purchase(second, 20m)));

        var stored = await Stored(first, second);
        Assert.All(stored, s => Assert.Single(s.OfType<CustomerEventRecorded>()));
        Assert.Contains(_interference.Commits, streams => streams.SetEquals([first, second]));
        Assert.Contains(stored[0], e => e is CustomerEnteredSegment { Segment: "big_spender" });
        Assert.DoesNotContain(stored[1], e => e is CustomerEnteredSegment);
    }

    [Fact]
    public async Task One_customers_events_in_one_batch_are_decided_in_order_and_appended_together()
    {
        var customer = NewCustomerId();
        var small = Purchase(customer, 300m, Now.AddHours(-2));
        var large = Purchase(customer, 300m, Now.AddHours(-1));

        await Task.WhenAll(Submit(small), Submit(large));

        var events = (await Stored(customer))[0];
        Assert.Equal([small.EventId, large.EventId], events.OfType<CustomerEventRecorded>().Select(e => e.EventId));
        // Only the second purchase brings the total over 500: the entry follows it.
        Assert.IsType<CustomerEnteredSegment>(events[events.FindIndex(e => e is CustomerEventRecorded r && r.EventId == large.EventId) + 1]);
        await using var session = _service.Store.QuerySession();
        var profile = await session.LoadAsync<CustomerProfile>(customer);
        Assert.Equal(events.Count, profile!.Version);
        Assert.Equal(2, profile.EventTypes["Purchased"].Count);
    }

    [Fact]
    public async Task A_lost_race_fails_that_customer_alone_and_the_rest_of_the_batch_is_committed()
    {
        var (racing, other) = (NewCustomerId(), NewCustomerId());
        var signUp = Purchase(racing, 1m, Now.AddHours(-1));
        await Task.WhenAll(Submit(signUp), Submit(Purchase(NewCustomerId(), 1m)));
        _interference.Attempts.Clear();
        var concurrent = Purchase(racing, 10m, Now.AddMinutes(-30));
        _interference.BeforeCommitOf = racing;
        _interference.Interfere = async services =>
        {
            _interference.BeforeCommitOf = null; // once: not again for the concurrent write itself
            await using var scope = services.CreateAsyncScope();
            var accepted = scope.ServiceProvider.GetRequiredService<CustomerEventNormalizer>().Normalize(concurrent);
            await scope.ServiceProvider.GetRequiredService<MembershipDecider>().Record([new SubmittedEvent(accepted, default)], default);
        };
        var lost = Purchase(racing, 700m);

        var outcomes = await Outcomes(Submit(lost), Submit(Purchase(other, 700m)));

        Assert.IsAssignableFrom<ConcurrencyException>(outcomes[0]);
        Assert.Null(outcomes[1]);
        // Tried twice: in the batch and by the concurrent writer; the loser is not tried again alone, the other is.
        Assert.Equal(2, _interference.Attempts.Count(streams => streams.Contains(racing)));
        Assert.Contains(_interference.Commits, streams => streams.SetEquals([other]));
        Assert.Equal([signUp.EventId, concurrent.EventId], (await _service.StoredEvents(racing)).Select(e => e.EventId));
        Assert.Single(await _service.StoredEvents(other));

        // Its consumer's retry submits it again: now it is stored once, after the concurrent one.
        await Task.WhenAll(Submit(lost), Submit(Purchase(NewCustomerId(), 1m)));
        Assert.Equal([signUp.EventId, concurrent.EventId, lost.EventId], (await _service.StoredEvents(racing)).Select(e => e.EventId));
    }

    [Fact]
    public async Task An_event_whose_commit_fails_fails_alone_and_the_other_is_stored()
    {
        var (failing, good) = (NewCustomerId(), NewCustomerId());
        _interference.BeforeCommitOf = failing;
        _interference.Interfere = _ => throw new InvalidOperationException("this customer cannot be stored");

        var outcomes = await Outcomes(Submit(Purchase(failing, 5m)), Submit(Purchase(good, 5m)));

        Assert.Equal("this customer cannot be stored", Assert.IsType<InvalidOperationException>(outcomes[0]).Message);
        Assert.Null(outcomes[1]);
        Assert.Empty(await _service.StoredEvents(failing));
        Assert.Single(await _service.StoredEvents(good));
    }

    [Fact]
    public async Task A_redelivery_inside_a_batch_is_stored_once_and_a_reused_id_with_other_content_is_refused()
    {
        var customer = NewCustomerId();
        var purchase = Purchase(customer, 50m);
        await Task.WhenAll(Submit(purchase), Submit(purchase));
        Assert.Single(await _service.StoredEvents(customer));

        var other = NewCustomerId();
        var first = Purchase(other, 50m);
        var outcomes = await Outcomes(Submit(first), Submit(first with { Amount = 60m }));

        Assert.Null(outcomes[0]);
        Assert.Contains("with different content", Assert.IsType<DuplicateEventIdException>(outcomes[1]).Message);
        Assert.Equal(50, Assert.Single(await _service.StoredEvents(other)).Properties["amount"].AsNumber);
    }

    [Fact]
    public async Task An_id_recorded_in_an_earlier_batch_for_another_customer_is_refused()
    {
        var purchase = Purchase(NewCustomerId(), 50m);
        await Task.WhenAll(Submit(purchase), Submit(Purchase(NewCustomerId(), 1m)));

        var outcomes = await Outcomes(Submit(purchase with { CustomerId = NewCustomerId() }), Submit(Purchase(NewCustomerId(), 1m)));

        Assert.Contains("an event id names one occurrence across all customers", Assert.IsType<DuplicateEventIdException>(outcomes[0]).Message);
        Assert.Null(outcomes[1]);
    }

    private Task Submit(OrderPurchased purchase) =>
        _service.Services.GetRequiredService<IngestionBatcher>().Submit(
            _service.Services.GetRequiredService<CustomerEventNormalizer>().Normalize(purchase), default);

    private static OrderPurchased Purchase(string customer, decimal amount, DateTimeOffset? at = null) =>
        new(Guid.NewGuid(), customer, at ?? Now.AddMinutes(-1), $"o-{Guid.NewGuid():N}", amount, "EUR");

    private static async Task<Exception?[]> Outcomes(params Task[] submissions)
    {
        var outcomes = new Exception?[submissions.Length];
        for (var i = 0; i < submissions.Length; i++)
        {
            try { await submissions[i]; }
            catch (Exception e) { outcomes[i] = e; }
        }
        return outcomes;
    }

    private async Task<List<List<object>>> Stored(params string[] customers)
    {
        await using var session = _service.Store.QuerySession();
        var stored = new List<List<object>>();
        foreach (var customer in customers)
            stored.Add([.. (await session.Events.FetchStreamAsync(customer)).Select(e => e.Data)]);
        return stored;
    }

    private static string NewCustomerId() => $"batched-{Guid.NewGuid():N}";

    /// <summary>
    /// Runs <see cref="Interfere"/> just before each commit that appends to <see cref="BeforeCommitOf"/>'s stream, and
    /// keeps the streams of every commit.
    /// </summary>
    private sealed class CommitInterference : DocumentSessionListenerBase
    {
        public IServiceProvider Services { get; set; } = null!;

        public string? BeforeCommitOf { get; set; }

        public Func<IServiceProvider, Task> Interfere { get; set; } = _ => Task.CompletedTask;

        public System.Collections.Concurrent.ConcurrentQueue<HashSet<string>> Attempts { get; } = new();

        public System.Collections.Concurrent.ConcurrentQueue<HashSet<string>> Commits { get; } = new();

        public override async Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            Attempts.Enqueue([.. session.PendingChanges.Streams().Select(s => s.Key!)]);
            if (BeforeCommitOf is { } customer && session.PendingChanges.Streams().Any(s => s.Key == customer)) await Interfere(Services);
        }

        public override Task AfterCommitAsync(IDocumentSession session, Marten.Services.IChangeSet commit, CancellationToken token)
        {
            Commits.Enqueue([.. commit.GetStreams().Select(s => s.Key!)]);
            return Task.CompletedTask;
        }
    }
}
