using System.Collections.Concurrent;
using MassTransit;
using SegmentationEvents.ServiceDefaults;

using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>A downstream subscriber of its own queue that records every segment event it receives, with its MessageId.</summary>
public sealed class SegmentEventObserver : IAsyncDisposable
{
    private readonly IBusControl _bus;

    private SegmentEventObserver(IBusControl bus) => _bus = bus;

    public ConcurrentQueue<(Guid MessageId, SegmentEntered Message)> Entered { get; } = new();

    public ConcurrentQueue<(Guid MessageId, SegmentExited Message)> Exited { get; } = new();

    public static async Task<SegmentEventObserver> Connect(IsolatedServers servers)
    {
        SegmentEventObserver? observer = null;
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit =>
        {
            rabbit.Host(servers.RabbitMqUrl);
            rabbit.ReceiveEndpoint("test-segment-event-observer", endpoint =>
            {
                endpoint.Handler<SegmentEntered>(context =>
                {
                    observer!.Entered.Enqueue((context.MessageId!.Value, context.Message));
                    return Task.CompletedTask;
                });
                endpoint.Handler<SegmentExited>(context =>
                {
                    observer!.Exited.Enqueue((context.MessageId!.Value, context.Message));
                    return Task.CompletedTask;
                });
            });
        });
        observer = new SegmentEventObserver(bus);
        await bus.StartAsync();
        return observer;
    }

    public Task<IReadOnlyList<SegmentEntered>> EnteredBy(string customerId, int count) =>
        Eventually.Get(
            () => Task.FromResult<IReadOnlyList<SegmentEntered>>(Entered.Select(e => e.Message).Where(m => m.CustomerId == customerId).ToList()),
            entries => entries.Count >= count, $"{count} SegmentEntered for {customerId}");

    public ValueTask DisposeAsync() => new(_bus.StopAsync());
}
