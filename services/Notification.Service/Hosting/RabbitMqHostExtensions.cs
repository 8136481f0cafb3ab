using MassTransit;

namespace Notification.Service.Hosting;

public static class RabbitMqHostExtensions
{
    /// <summary>Connects to an <c>amqp://user:password@host:port/vhost</c> URL.</summary>
    public static void Host(this IRabbitMqBusFactoryConfigurator bus, Uri amqpUrl)
    {
        var credentials = Uri.UnescapeDataString(amqpUrl.UserInfo).Split(':', 2);
        var virtualHost = Uri.UnescapeDataString(amqpUrl.AbsolutePath.TrimStart('/'));
        bus.Host(amqpUrl.Host, (ushort)(amqpUrl.IsDefaultPort ? 5672 : amqpUrl.Port),
            virtualHost.Length == 0 ? "/" : virtualHost, host =>
            {
                host.Username(credentials[0]);
                host.Password(credentials.Length > 1 ? credentials[1] : "");
            });
    }
}
