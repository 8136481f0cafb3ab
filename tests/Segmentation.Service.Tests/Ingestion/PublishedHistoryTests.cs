using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Cli.Commands;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Ingestion;

/// <summary>
/// The example history published the documented way (<c>segctl publish</c>) into the live service: every customer
/// holds, and is blocked from, what <c>segctl evaluate</c> prints at the same instant; the same history published
/// again, by segctl or line by line as plain JSON to the raw endpoint, is recognised as the same events.
/// The fake clock stays at the history's first event while it is published and the accepted clock skew covers the
/// history, so the service decides each event at its occurrence time, as the replay does.
/// </summary>
public sealed class PublishedHistoryTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    private static readonly string HistoryPath = Path.Combine(Path.GetDirectoryName(ExampleRuleset.Path)!, "history.jsonl");

    private sealed record Evaluated(string CustomerId, List<string> Segments, List<BlockedSegmentOutput> Blocked);

    private sealed record BlockedSegmentOutput(string Segment, string Reason);

    [Fact]
    public async Task The_example_history_published_with_segctl_holds_what_segctl_evaluate_prints_and_republishing_changes_nothing()
    {
        var lines = File.ReadLines(HistoryPath).Where(l => l.Trim().Length > 0).ToList();
        var history = lines.Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (Customer: e.GetProperty("customerId").GetString()!, OccurredAt: e.GetProperty("occurredAt").GetDateTimeOffset()))
            .ToList();
        var (start, end) = (history.Min(e => e.OccurredAt), history.Max(e => e.OccurredAt));
        var eventsPerCustomer = history.GroupBy(e => e.Customer).ToDictionary(g => g.Key, g => g.Count());
        var time = new FakeTimeProvider(start);
        await using var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path },
            new Dictionary<string, string?> { ["Segmentation:Ingestion:MaxClockSkew"] = (end - start + TimeSpan.FromDays(1)).ToString() });

        Segctl("publish", "--events", HistoryPath, "--rabbitmq", servers.RabbitMqUrl.ToString());
        foreach (var (customer, count) in eventsPerCustomer) await EventsStored(service, customer, count);

        await HoldsWhatEvaluatePrints(service, time, end);
        await HoldsWhatEvaluatePrints(service, time, new DateTimeOffset(2025, 4, 25, 0, 0, 0, TimeSpan.Zero));

        await using var upstream = await UpstreamPublisher.Connect(servers);
        Segctl("publish", "--events", HistoryPath, "--rabbitmq", servers.RabbitMqUrl.ToString());
        foreach (var line in lines) await upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName, line);
        // A later event per customer on each endpoint shows the republished ones were consumed before we look.
        var at = time.GetUtcNow();
        foreach (var customer in eventsPerCustomer.Keys)
        {
            await upstream.Publish(new CustomerEvent(Guid.NewGuid(), customer, "Marker", at));
            await upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName,
                $$"""{"eventId":"marker-{{customer}}","customerId":"{{customer}}","type":"Marker","occurredAt":"{{at:O}}"}""");
        }

        foreach (var (customer, count) in eventsPerCustomer) await EventsStored(service, customer, count + 2);
        await using var session = service.Store.QuerySession();
        foreach (var customer in eventsPerCustomer.Keys)
        {
            var stored = (await session.Events.FetchStreamAsync(customer)).Select(e => e.Data).OfType<CustomerEventRecorded>().ToList();
            Assert.Equal(eventsPerCustomer[customer] + 2, stored.Count);
        }
        Assert.Empty(await upstream.Drain(CustomerEventEndpoints.QueueName + "_error"));
        Assert.Empty(await upstream.Drain(CustomerEventEndpoints.RawQueueName + "_error"));
    }

    private static async Task HoldsWhatEvaluatePrints(ServiceUnderTest service, FakeTimeProvider time, DateTimeOffset at)
    {
        time.SetUtcNow(at);
        var profiles = await Eventually.Get(() => Profiles(service), ps => ps.All(p => p.NextCheckAt is null || p.NextCheckAt > at),
            $"every customer evaluated up to {at:O}");

        var printed = Segctl("evaluate", "--rules", ExampleRuleset.Path, "--events", HistoryPath, "--json",
            "--at", at.ToString("O", CultureInfo.InvariantCulture));
        var expected = printed.Trim().Split('\n')
            .Select(l => JsonSerializer.Deserialize<Evaluated>(l, JsonSerializerOptions.Web)!)
            .Select(e => $"{e.CustomerId}: {string.Join(", ", e.Segments)}; blocked: {string.Join(", ", e.Blocked.Select(b => $"{b.Segment} ({b.Reason})"))}");
        var live = profiles.OrderBy(p => p.Id, StringComparer.Ordinal)
            .Select(p => $"{p.Id}: {string.Join(", ", p.State.Held.Keys.Order(StringComparer.Ordinal))}; blocked: {string.Join(", ", p.Blocked.Select(b => $"{b.Segment} ({b.Reason})"))}");
        Assert.Equal(expected, live);
    }

    private static async Task<IReadOnlyList<CustomerProfile>> Profiles(ServiceUnderTest service)
    {
        await using var session = service.Store.QuerySession();
        return await session.Query<CustomerProfile>().ToListAsync();
    }

    private static Task EventsStored(ServiceUnderTest service, string customer, int count) =>
        Eventually.Get(() => service.StoredEvents(customer), events => events.Count == count, $"{count} events of {customer} stored");

    private static string Segctl(params string[] arguments)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = SegctlCommand.Create().Parse(arguments).Invoke(new InvocationConfiguration { Output = output, Error = error });
        Assert.True(exit == 0, $"segctl {arguments[0]} exited {exit}: {error}");
        return output.ToString();
    }
}
