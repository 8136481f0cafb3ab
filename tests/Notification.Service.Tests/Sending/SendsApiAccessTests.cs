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
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        // Loopback reads are not opened here: this is the deployed default.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Admin:Keys:oncall"] = Key });
        builder.Services.AddNotificationService(
            new NotificationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName), builder.Configuration);
        _app = builder.Build();
        _app.UseRequestBodyLimit(_app.Configuration);
        _app.MapNotificationEndpoints();
        await _app.StartAsync();
        await _app.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        _http = new HttpClient { BaseAddress = new Uri(_app.Urls.Single()) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

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
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
}
