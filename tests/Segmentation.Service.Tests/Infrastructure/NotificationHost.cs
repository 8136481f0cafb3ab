using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Notification.Service.Hosting;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>The real notification service, in-process, on a test class's vhost and a schema of its own.</summary>
public static class NotificationHost
{
    public static async Task<IHost> Start(IsolatedServers servers, TimeProvider time)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Notification:Cooldowns:contact"] = "1.00:00:00" });
        builder.Services.AddSingleton(time);
        builder.Services.AddNotificationService(new NotificationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName + "_n"));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
