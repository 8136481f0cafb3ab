using System.Text;
using MassTransit;
using SegmentationEvents.ServiceDefaults;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;


namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>Publishes like an upstream service would: typed messages through MassTransit, or raw bytes.</summary>
public sealed class UpstreamPublisher : IAsyncDisposable
{
    private readonly IBusControl _bus;
    private readonly IConnection _connection;

    private UpstreamPublisher(IBusControl bus, IConnection connection)
    {
        _bus = bus;
        _connection = connection;
    }

    public static async Task<UpstreamPublisher> Connect(IsolatedServers servers)
    {
        var bus = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(servers.RabbitMqUrl));
        await bus.StartAsync();
        var connection = await new ConnectionFactory { Uri = servers.RabbitMqUrl }.CreateConnectionAsync();
        return new UpstreamPublisher(bus, connection);
    }

    public Task Publish<T>(T message) where T : class => _bus.Publish(message);

    public IPublishEndpoint Endpoint => _bus;

    /// <summary>After the broker dropped the connection: waits until the bus has reconnected.</summary>
    public Task WaitUntilConnected() => _bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(60));

    /// <summary>Sends a body as a publisher with no MassTransit would: plain bytes to an exchange.</summary>
    public async Task PublishRaw(string exchange, string body, string contentType = "application/json")
    {
        await using var channel = await _connection.CreateChannelAsync();
        await channel.BasicPublishAsync(exchange, "", mandatory: false,
            new BasicProperties { ContentType = contentType, Persistent = true }, Encoding.UTF8.GetBytes(body));
    }

    /// <summary>Takes every message waiting in a queue, with its headers; none while the queue does not exist yet.</summary>
    public async Task<IReadOnlyList<BasicGetResult>> Drain(string queue)
    {
        await using var channel = await _connection.CreateChannelAsync();
        var messages = new List<BasicGetResult>();
        try
        {
            while (await channel.BasicGetAsync(queue, autoAck: true) is { } message) messages.Add(message);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
        }
        return messages;
    }

    /// <summary>The reason MassTransit gave for moving a message to an error queue (its <c>MT-Fault-Message</c> header).</summary>
    public static string FaultReason(BasicGetResult message) =>
        message.BasicProperties.Headers is { } headers && headers.TryGetValue("MT-Fault-Message", out var value)
            ? value switch { byte[] bytes => Encoding.UTF8.GetString(bytes), _ => value?.ToString() ?? "" }
            : "";

    public async ValueTask DisposeAsync()
    {
        await _bus.StopAsync();
        await _connection.DisposeAsync();
    }
}
