using MassTransit;
using SegmentationEvents.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Notification.Service.Hosting;
using Notification.Service.Sending;
using SegmentationEvents.Contracts;
using Segmentation.Service.Tests.Infrastructure;
using System.Diagnostics.Metrics;

namespace Notification.Service.Tests.Infrastructure;

/// <summary>
/// One running notification service on a test class's vhost and schema, with a fake clock, plus a
/// MassTransit publisher on the same vhost that publishes segment events the way the segmentation
/// service does (MessageId = the stored event id).
/// </summary>
public sealed class NotificationUnderTest : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly IBusControl _publisher;

    private NotificationUnderTest(IHost host, IBusControl publisher)
    {
        _host = host;
        _publisher = publisher;
    }

    public SendLedger Ledger => _host.Services.GetRequiredService<SendLedger>();

    /// <summary>This host's meter factory: a MetricCollector on it sees this instance's measurements only.</summary>
    public IMeterFactory MeterFactory => _host.Services.GetRequiredService<IMeterFactory>();

    public static async Task<NotificationUnderTest> Start(
        IsolatedServers servers, FakeTimeProvider time, IReadOnlyDictionary<string, TimeSpan> cooldowns)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(
            cooldowns.Select(c => KeyValuePair.Create<string, string?>($"Notification:Cooldowns:{c.Key}", c.Value.ToString("c"))));
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddNotificationService(
            new NotificationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName));
        var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));

        var publisher = Bus.Factory.CreateUsingRabbitMq(rabbit => rabbit.Host(servers.RabbitMqUrl));
        await publisher.StartAsync();
        return new NotificationUnderTest(host, publisher);
    }

    public Task Publish(Guid messageId, SegmentEntered entry) =>
        _publisher.Publish(entry, context => context.MessageId = messageId);

    public async ValueTask DisposeAsync()
    {
        await _publisher.StopAsync();
        await _host.StopAsync();
        _host.Dispose();
    }
}
