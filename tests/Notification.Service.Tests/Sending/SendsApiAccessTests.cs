using System.Net;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Notification.Service.Hosting;
using Notification.Service.Sending;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.ServiceDefaults;

namespace Notification.Service.Tests.Sending;

/// <summary>The notification service's HTTP endpoints on loopback, under the same access rules as the segmentation admin API.</summary>
public sealed class SendsApiAccessTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private const string Key = "notification-test-key";
    private LoopbackWebApp _web = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        // Loopback reads are not opened here: this is the deployed default.
        _web = await LoopbackWebApp.Start(
            new Dictionary<string, string?> { ["Admin:Keys:oncall"] = Key },
            builder => builder.Services.AddNotificationService(
                new NotificationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName), builder.Configuration),
            app => app.MapNotificationEndpoints());
        await _web.App.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        _http = _web.Http;
    }

    public async Task DisposeAsync() => await _web.DisposeAsync();

    [Theory]
    [InlineData("/sends")]
    [InlineData("/sends?customerId=c1")]
    [InlineData("/sends/summary")]
    public async Task Sends_need_a_key_even_from_loopback_unless_loopback_reads_are_opened(string path)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.GetAsync(new Uri(path, UriKind.Relative))).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Add(AdminAccess.ApiKeyHeader, Key);
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Health_stays_open_for_probes() =>
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(HealthEndpoints.ReadyPath, UriKind.Relative))).StatusCode);
}
