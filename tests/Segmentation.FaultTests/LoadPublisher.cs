using System.Diagnostics;
using MassTransit;
using SegmentationEvents.Contracts;
using Storefront.Simulator.Generation;

namespace Segmentation.FaultTests;

/// <summary>
/// The storefront simulator's customers and events, published as an upstream service would through a fault: at a steady
/// rate, one customer's events in order (each confirmed before the next), and a publish the broker did not confirm is
/// sent again with the same event id until it is (the service recognises the redelivery).
/// </summary>
public sealed class LoadPublisher : IAsyncDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private readonly IBusControl _bus;
    private long _published;

    private LoadPublisher(IBusControl bus, IReadOnlyList<ICustomerLifecycleEvent> events)
    {
        _bus = bus;
        Events = events;
    }

    public IReadOnlyList<ICustomerLifecycleEvent> Events { get; }
    public long Published => Interlocked.Read(ref _published);
    public long PublishRetries { get; private set; }

    public static async Task<LoadPublisher> Connect(Uri rabbitMqUrl, int customers, int events, int seed)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(rabbitMqUrl));
        await bus.StartAsync();
        var span = TimeSpan.FromDays(30);
        var generated = new SyntheticCustomerGenerator(new SimulationSettings(customers, events, seed, DateTimeOffset.UtcNow - span, span)).Generate().ToList();
        return new LoadPublisher(bus, generated);
    }

    public async Task Run(double eventsPerSecond, CancellationToken cancellationToken)
    {
        var perTick = Math.Max(1, (int)Math.Round(eventsPerSecond * Tick.TotalSeconds));
        using var timer = new PeriodicTimer(Tick);
        for (var offset = 0; offset < Events.Count; offset += perTick)
        {
            var batch = Events.Skip(offset).Take(perTick);
            await Task.WhenAll(batch.GroupBy(e => e.CustomerId, StringComparer.Ordinal).Select(async customer =>
            {
                foreach (var message in customer)
                {
                    await PublishUntilConfirmed(message, cancellationToken);
                    Interlocked.Increment(ref _published);
                }
            }));
            await timer.WaitForNextTickAsync(cancellationToken);
        }
    }

    private async Task PublishUntilConfirmed(ICustomerLifecycleEvent message, CancellationToken cancellationToken)
    {
        var giveUp = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(TimeSpan.FromSeconds(10));
                await _bus.Publish((object)message, Pipe.Execute<PublishContext>(context => context.MessageId = message.EventId), attempt.Token);
                return;
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested && giveUp.Elapsed < TimeSpan.FromMinutes(2))
            {
                PublishRetries++;
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
            }
        }
    }

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
